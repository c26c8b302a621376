// The approval JSON API and page on the admin listener (docs/approvals.md). Every API call carries
// an OIDC bearer token checked by the same verifier as database clients; the token's subject is the
// person answering. Bodies are validated against schemas/approval-*.schema.json.

import type { IncomingMessage } from 'node:http';
import type { AdminReply, AdminRoutes } from '../admin/admin-server.ts';
import { compileSchemaFile } from '../schema/validator.ts';
import type { Identity } from '../policy/types.ts';
import { decodeCursor, encodeCursor, parsePageSize, type PageCursor } from './keyset.ts';
import { approvalPage } from './page.ts';
import type { ApprovalService } from './service.ts';
import type { AnswerRefusal } from './transitions.ts';
import type { RequestState } from './types.ts';
import { grantView, requestView } from './views.ts';

export interface ApprovalEndpoints {
  service: ApprovalService;
  /** The clients' token verifier: rejects with a message on a bad token. */
  verify(token: string): Promise<Identity>;
  activeRevision(): string;
  now?: () => Date;
}

const validateAnswer = compileSchemaFile(new URL('../../../schemas/approval-answer.schema.json', import.meta.url));
const validateRevoke = compileSchemaFile(new URL('../../../schemas/approval-revoke.schema.json', import.meta.url));

const REFUSAL_STATUS: Record<AnswerRefusal, number> = {
  not_pending: 409,
  expired: 409,
  self_answer: 403,
  not_an_approver: 403,
  already_answered: 409,
  grant_not_allowed: 422,
};

/** ?state=pending (the inbox), ?state=closed (the history), or none: both. */
const STATE_FILTERS: Record<string, readonly RequestState[] | undefined> = {
  pending: ['pending'],
  closed: ['approved', 'denied', 'expired', 'withdrawn', 'void'],
  all: undefined,
};

export function approvalRoutes(e: ApprovalEndpoints): AdminRoutes {
  const now = e.now ?? (() => new Date());
  const page = approvalPage();
  return {
    '/approvals': { GET: () => page.html },
    '/approvals/inbox.js': { GET: () => page.script },
    '/approvals/api/requests': {
      GET: (req) =>
        authed(e, req, async (who) => {
          const search = new URL(req.url ?? '/', 'http://x').searchParams;
          const filter = search.get('state') ?? 'all';
          if (!(filter in STATE_FILTERS)) return problem(400, `state must be one of ${Object.keys(STATE_FILTERS).join(', ')}`);
          const paging = pagingOf(search);
          if (typeof paging === 'string') return problem(400, paging);
          const states = STATE_FILTERS[filter];
          // Only the inbox is counted: pending requests are few (TTL and caps), the history may be long.
          const page = await e.service.requestPage(who, { ...paging, ...(states === undefined ? {} : { states }), count: filter === 'pending' });
          return { status: 200, body: { requests: page.items.map((r) => requestView(r, who)), next: cursorText(page.next), total: page.total } };
        }),
    },
    '/approvals/api/requests/{id}': {
      GET: (req, _body, params) =>
        authed(e, req, async (who) => {
          const r = await e.service.get(params['id'] ?? '');
          if (r === null || !canSee(r, who)) return problem(404, 'no such approval request');
          return { status: 200, body: requestView(r, who) };
        }),
    },
    '/approvals/api/requests/{id}/answer': {
      POST: (req, body, params) =>
        authed(e, req, async (who) => {
          const input = parseBody(body, validateAnswer);
          if (typeof input === 'string') return problem(400, input);
          const answer = input as { verdict: 'approve' | 'deny'; comment?: string; grant_minutes?: number };
          if (answer.verdict === 'deny' && answer.grant_minutes !== undefined) return problem(400, 'grant_minutes goes with verdict approve only');
          const out = await e.service.answer(who, params['id'] ?? '', {
            verdict: answer.verdict,
            comment: answer.comment ?? '',
            grantSeconds: (answer.grant_minutes ?? 0) * 60,
          });
          if (out === null) return problem(404, 'no such approval request');
          if (out.kind === 'refused') return { status: REFUSAL_STATUS[out.refusal], body: { error: out.message, code: out.refusal } };
          return { status: 200, body: requestView(out.request, who) };
        }),
    },
    '/approvals/api/grants': {
      GET: (req) =>
        authed(e, req, async (who) => {
          const paging = pagingOf(new URL(req.url ?? '/', 'http://x').searchParams);
          if (typeof paging === 'string') return problem(400, paging);
          const page = await e.service.grantPage(who, paging);
          return { status: 200, body: { grants: page.items.map((g) => grantView(g, e.activeRevision(), now())), next: cursorText(page.next) } };
        }),
    },
    '/approvals/api/grants/{id}/revoke': {
      POST: (req, body, params) =>
        authed(e, req, async (who) => {
          const input = parseBody(body.length === 0 ? Buffer.from('{}') : body, validateRevoke);
          if (typeof input === 'string') return problem(400, input);
          const out = await e.service.revokeGrant(who, params['id'] ?? '', (input as { comment?: string }).comment ?? '');
          if (out === null) return problem(404, 'no such grant');
          if (out.kind === 'forbidden') return problem(403, 'only its approvers, or members of the groups that may answer its request, may revoke a grant');
          if (out.kind === 'already_revoked') return problem(409, 'the grant is already revoked');
          return { status: 200, body: grantView(out.grant, e.activeRevision(), now()) };
        }),
    },
  };
}

/** ?limit=N (1..500, default 50) and ?before=CURSOR (the previous page's `next`), or why they are wrong. */
function pagingOf(search: URLSearchParams): { limit: number; before?: PageCursor } | string {
  const size = parsePageSize(search.get('limit'));
  if (size.kind === 'malformed') return size.why;
  const before = search.get('before');
  if (before === null) return { limit: size.size };
  const cursor = decodeCursor(before);
  if (cursor.kind === 'malformed') return cursor.why;
  return { limit: size.size, before: cursor.cursor };
}

function cursorText(cursor: PageCursor | null): string | null {
  return cursor === null ? null : encodeCursor(cursor);
}

/** Approvers see what they may answer; requesters see their own. */
function canSee(r: Parameters<typeof requestView>[0], who: Identity): boolean {
  return requestView(r, who).statement.literals_shown || (r.requester.subject === who.subject && r.requester.issuer === who.issuer);
}

async function authed(e: ApprovalEndpoints, req: IncomingMessage, handle: (who: Identity) => Promise<AdminReply>): Promise<AdminReply> {
  const header = req.headers.authorization;
  const token = typeof header === 'string' && /^Bearer /i.test(header) ? header.slice(7).trim() : null;
  if (token === null || token === '') {
    return { ...problem(401, 'sign in: send your identity token as "Authorization: Bearer <token>"'), headers: { 'WWW-Authenticate': 'Bearer' } };
  }
  let who: Identity;
  try {
    who = await e.verify(token);
  } catch (err) {
    return { ...problem(401, `token refused: ${err instanceof Error ? err.message : String(err)}`), headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } };
  }
  return handle(who);
}

function parseBody(body: Buffer, validate: ReturnType<typeof compileSchemaFile>): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  if (!validate(doc)) return `the body does not match its schema: ${(validate.errors ?? []).map((x) => `${x.instancePath || '(root)'} ${x.message ?? ''}`).join('; ')}`;
  return doc;
}

function problem(status: number, error: string): { status: number; body: { error: string } } {
  return { status, body: { error } };
}
