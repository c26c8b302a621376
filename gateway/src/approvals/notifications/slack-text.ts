// The Slack-compatible incoming webhook's message: one line of text with the request id, who asked,
// the statement's fingerprint, kind and tables (never its text or literals), the policy's reason and
// a link to the page. Values are escaped as Slack's mrkdwn needs (&, <, >), so no value makes a link.

import type { ApprovalEvent, NotificationKind } from './event.ts';

const HEADLINE: Record<NotificationKind, string> = {
  requested: 'needs approval',
  approved: 'was approved',
  denied: 'was denied',
  expired: 'expired without enough approvals',
  withdrawn: 'was withdrawn',
  void: 'is void',
};

export function slackText(e: ApprovalEvent, pageUrl: string | null): string {
  const r = e.request;
  const who = r.requester.name === null ? r.requester.subject : `${r.requester.name} (${r.requester.subject})`;
  const tables = [...new Set([...r.statement.tablesWritten, ...r.statement.tablesRead])];
  const lines = [
    `Gatehouse approval request ${esc(r.id)} ${HEADLINE[e.kind]}`,
    `Requester: ${esc(who)}`,
    `Statement: ${esc(r.statement.kind)}${tables.length === 0 ? '' : ` on ${esc(tables.join(', '))}`}, fingerprint ${esc(r.statement.fingerprint)}`,
    `Policy: ${esc(r.policy.reason)} (commit ${esc(r.policy.revision)})`,
  ];
  if (e.kind === 'requested') {
    lines.push(`Needs ${r.requirements.quorum} approval(s) from ${esc(r.requirements.approvers.join(', '))} before ${esc(r.expiresAt)}`);
  } else {
    const by = r.answers.map((a) => `${a.approver.subject} ${a.verdict === 'approve' ? 'approved' : 'denied'}`);
    if (by.length > 0) lines.push(`Answers: ${esc(by.join('; '))}`);
    if (r.closedReason !== null) lines.push(`Why: ${esc(r.closedReason)}`);
  }
  if (pageUrl !== null) lines.push(`<${pageUrl.replace(/[<>|]/g, encodeURIComponent)}|Answer on the approval page>`);
  return lines.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
