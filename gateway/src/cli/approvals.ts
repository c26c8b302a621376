// `gatehouse approvals list|show|approve|deny|grants|revoke`: answers held statements through a
// running gateway's approval API (admin listener), as the person whose token is given.

import { ApprovalApiError, approvalApiClient } from '../approvals/api-client.ts';
import { parseOptionsAndPositionals, UsageError } from './args.ts';
import type { CliCommand } from './command.ts';
import { terminalText } from './terminal-text.ts';

const HELP = `Usage: gatehouse approvals <subcommand> [options] [id]

Answer statements Gatehouse holds for approval, through the running gateway's admin listener.
You act as the subject of your identity token; only the groups the policy names may answer,
and nobody answers their own request.

Subcommands:
  list                 requests you may answer or made (default: pending ones), newest first
  show <id>            one request: statement, facts, policy reason and commit, answers
  approve <id>         approve it (with --grant N: let the same statement through for N minutes)
  deny <id>            deny it (the held statement fails with 42501)
  grants               time-boxed grants and their state, newest first
  revoke <grant-id>    end a grant now

Options:
  --url <url>          the admin listener (default $GATEHOUSE_ADMIN_URL, else http://127.0.0.1:9090)
  --token <jwt>        your identity token (default $GATEHOUSE_TOKEN)
  --comment <text>     why (kept with the answer and in the audit log)
  --grant <minutes>    with approve: a grant instead of a one-off approval, where the policy allows it
  --state <s>          with list: pending (default), closed or all
  --limit <n>          with list and grants: how many per page, 1 to 500 (default 50)
  --before <cursor>    with list and grants: the next, older page; when there is one, the
                       cursor is printed after the list as "next page: --before <cursor>"
                       (with --json: the document's "next"); pass it with the same --state
  --json               print the API's JSON documents
  -h, --help           show this help

Exit status: 0 done, 1 refused or failed (the reason is printed), 2 command-line mistake.

Examples:
  export GATEHOUSE_TOKEN=$(gatehouse token --sub lead-1 --groups clinical-leads)
  gatehouse approvals list
  gatehouse approvals list --state closed --limit 20 --before eyIyMDI2LTEy...
  gatehouse approvals approve 3f0c... --comment "checked with the ward"
  gatehouse approvals approve 3f0c... --grant 30
`;

const SUBCOMMANDS = ['list', 'show', 'approve', 'deny', 'grants', 'revoke'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

export const approvalsCommand: CliCommand = {
  name: 'approvals',
  summary: 'List, approve and deny held statements; list and revoke grants',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptionsAndPositionals(argv, {
      url: { type: 'string' },
      token: { type: 'string' },
      comment: { type: 'string' },
      grant: { type: 'string' },
      state: { type: 'string' },
      limit: { type: 'string' },
      before: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const [sub, id, ...extra] = positionals;
    if (sub === undefined) throw new UsageError('a subcommand is required (list, show, approve, deny, grants, revoke)');
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand '${sub}'`);
    const needsId = sub === 'show' || sub === 'approve' || sub === 'deny' || sub === 'revoke';
    if (needsId && id === undefined) throw new UsageError(`${sub} needs an id`);
    if ((!needsId && id !== undefined) || extra.length > 0) throw new UsageError(`unexpected argument '${needsId ? extra[0] : id}'`);
    if (values.grant !== undefined && sub !== 'approve') throw new UsageError('--grant goes with approve');
    if (values.grant !== undefined && !/^\d+$/.test(values.grant)) throw new UsageError('--grant must be a whole number of minutes');
    const state = values.state ?? 'pending';
    if (!['pending', 'closed', 'all'].includes(state)) throw new UsageError('--state must be pending, closed or all');
    if (values.state !== undefined && sub !== 'list') throw new UsageError('--state goes with list');
    const paged = sub === 'list' || sub === 'grants';
    if ((values.limit !== undefined || values.before !== undefined) && !paged) throw new UsageError('--limit and --before go with list and grants');
    if (values.limit !== undefined && !/^\d+$/.test(values.limit)) throw new UsageError('--limit must be a whole number from 1 to 500');
    const paging = new URLSearchParams({ ...(values.limit === undefined ? {} : { limit: values.limit }), ...(values.before === undefined ? {} : { before: values.before }) });
    const token = values.token ?? process.env['GATEHOUSE_TOKEN'];
    if (token === undefined || token === '') throw new UsageError('an identity token is required: --token or $GATEHOUSE_TOKEN');
    const api = approvalApiClient(values.url ?? process.env['GATEHOUSE_ADMIN_URL'] ?? 'http://127.0.0.1:9090', token);
    const ref = encodeURIComponent(id ?? '');
    try {
      const doc = await call(sub as Subcommand, api, ref, state, paging, values.comment ?? '', values.grant === undefined ? undefined : Number(values.grant));
      // Requesters write the statement, its literals and the reason: nothing in them may steer the
      // approver's terminal (red-team round 7, R7-6). JSON keeps its meaning: escapes go inside strings.
      process.stdout.write(terminalText(values.json === true ? `${JSON.stringify(doc, null, 2)}\n` : describe(sub as Subcommand, doc)));
      return 0;
    } catch (e) {
      if (!(e instanceof ApprovalApiError)) throw e;
      process.stderr.write(`gatehouse approvals ${sub}: ${e.message}\n`);
      return 1;
    }
  },
};

function call(sub: Subcommand, api: ReturnType<typeof approvalApiClient>, id: string, state: string, paging: URLSearchParams, comment: string, grant: number | undefined): Promise<any> {
  const more = paging.size === 0 ? '' : `&${paging.toString()}`;
  switch (sub) {
    case 'list':
      return api.get(`/approvals/api/requests?state=${state}${more}`);
    case 'show':
      return api.get(`/approvals/api/requests/${id}`);
    case 'approve':
      return api.post(`/approvals/api/requests/${id}/answer`, { verdict: 'approve', comment, ...(grant === undefined ? {} : { grant_minutes: grant }) });
    case 'deny':
      return api.post(`/approvals/api/requests/${id}/answer`, { verdict: 'deny', comment });
    case 'grants':
      return api.get(`/approvals/api/grants${paging.size === 0 ? '' : `?${paging.toString()}`}`);
    case 'revoke':
      return api.post(`/approvals/api/grants/${id}/revoke`, { comment });
    default: {
      const never: never = sub;
      throw new Error(`unknown subcommand ${String(never)}`);
    }
  }
}

function describe(sub: Subcommand, doc: any): string {
  switch (sub) {
    case 'list':
      return `${doc.requests.length === 0 ? 'no requests\n' : `${doc.requests.map(requestLine).join('\n')}\n`}${pendingTotal(doc)}${nextPage(doc)}`;
    case 'show':
    case 'approve':
    case 'deny':
      return requestText(doc);
    case 'grants':
      return `${doc.grants.length === 0 ? 'no grants\n' : `${doc.grants.map(grantLine).join('\n')}\n`}${nextPage(doc)}`;
    case 'revoke':
      return `${grantLine(doc)}\n`;
    default: {
      const never: never = sub;
      throw new Error(`unknown subcommand ${String(never)}`);
    }
  }
}

/** The inbox's count (the API counts pending requests only), when they do not all fit on this page. */
function pendingTotal(doc: any): string {
  return typeof doc.total === 'number' && doc.total > doc.requests.length ? `${doc.total} pending in all\n` : '';
}

/** The cursor of the next page, as the option that asks for it. */
function nextPage(doc: any): string {
  return typeof doc.next === 'string' ? `next page: --before ${doc.next}\n` : '';
}

function requestLine(r: any): string {
  return `${r.id}  ${r.state.padEnd(9)}  ${r.requester.subject}  ${r.statement.text.replace(/\s+/g, ' ').slice(0, 80)}`;
}

function requestText(r: any): string {
  const answers = r.answers.map((a: any) => `  ${a.verdict} by ${a.approver.subject} at ${a.at}${a.comment ? `: ${a.comment}` : ''}`);
  return [
    `request    ${r.id} (${r.state}${r.closed_reason ? `: ${r.closed_reason}` : ''})`,
    `requester  ${r.requester.subject}${r.requester_reason ? `, reason: ${indented(r.requester_reason)}` : ''}`,
    `statement  ${indented(r.statement.text)}`,
    ...(r.statement.parameters && r.statement.parameters.length > 0 ? [`parameters ${JSON.stringify(r.statement.parameters)}`] : []),
    `policy     ${r.policy.ids.join(', ')}: ${r.policy.reason} (commit ${r.policy.revision})`,
    `needs      ${r.requirements.quorum} of ${r.requirements.approvers.join(', ')}, until ${r.expires_at}`,
    ...(answers.length > 0 ? ['answers', ...answers] : []),
    ...(r.grant_id ? [`grant      ${r.grant_id}`] : []),
    '',
  ].join('\n');
}

/** Continuation lines indented under the value, so no line of a requester's text starts like a field. */
function indented(text: string): string {
  return text.replace(/\r?\n/g, '\n           ');
}

function grantLine(g: any): string {
  return `${g.id}  ${g.state.padEnd(7)}  ${g.subject}  until ${g.expires_at}  ${g.statement.replace(/\s+/g, ' ').slice(0, 60)}`;
}
