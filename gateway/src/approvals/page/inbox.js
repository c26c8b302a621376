// The approvers' inbox: polls the approval API, lists pending requests (updated without reloading),
// the history and the grants, and sends answers. Everything from the server is shown as text.
'use strict';

const POLL_MS = 2000;
let view = 'inbox';
let token = sessionStorage.getItem('gatehouse-token') || '';
let timer = null;
const drafts = new Map(); // request id -> comment being typed, kept across refreshes

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

async function api(path, options) {
  const res = await fetch(path, { ...options, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) signOut(body.error || 'signed out');
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function signOut(message) {
  token = '';
  sessionStorage.removeItem('gatehouse-token');
  $('signin').hidden = false;
  $('signout').hidden = true;
  $('list').replaceChildren();
  $('signin-error').textContent = message || '';
  clearTimeout(timer);
}

function duration(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60) return `${Math.round(seconds / 60)} min`;
  return `${seconds} s`;
}

function facts(r) {
  const rows = [
    ['Requested by', `${r.requester.name || r.requester.subject} (${r.requester.subject})`],
    ['Groups', [...r.requester.groups, ...r.requester.roles].join(', ') || '(none)'],
    ['Statement', `${r.statement.kind}, ${r.statement.protocol} protocol`],
    ['Writes', r.statement.tables_written.join(', ') || '(none)'],
    ['Reads', r.statement.tables_read.join(', ') || '(none)'],
    ['Policy', `${r.policy.ids.join(', ')}: ${r.policy.reason}`],
    ['Policy commit', r.policy.revision],
    ['Their reason', r.requester_reason || '(none given)'],
    ['Needs', `${r.requirements.quorum} of ${r.requirements.approvers.join(', ')}; ${r.answers.filter((a) => a.verdict === 'approve').length} so far`],
    [r.state === 'pending' ? 'Expires' : 'Closed', r.state === 'pending' ? new Date(r.expires_at).toLocaleString() : `${new Date(r.closed_at).toLocaleString()}${r.closed_reason ? `: ${r.closed_reason}` : ''}`],
  ];
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}

function answerForm(r) {
  const comment = el('input', { type: 'text', placeholder: 'Comment (kept in the audit log)', 'aria-label': `Comment for ${r.id}` });
  comment.value = drafts.get(r.id) || '';
  comment.addEventListener('input', () => drafts.set(r.id, comment.value));
  let grant = null;
  if (r.requirements.grant_max_seconds > 0) {
    grant = el('input', { type: 'number', min: '1', max: String(Math.floor(r.requirements.grant_max_seconds / 60)), placeholder: 'grant min', 'aria-label': 'Grant minutes', style: 'width: 90px' });
  }
  const send = (verdict) => async () => {
    const body = { verdict, comment: comment.value };
    if (verdict === 'approve' && grant && grant.value) body.grant_minutes = Number(grant.value);
    try {
      await api(`/approvals/api/requests/${encodeURIComponent(r.id)}/answer`, { method: 'POST', body: JSON.stringify(body) });
      drafts.delete(r.id);
      refresh();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const error = el('span', { class: 'error' });
  return el(
    'div',
    { class: 'answer' },
    comment,
    grant,
    el('button', { class: 'approve', onclick: send('approve') }, 'Approve'),
    el('button', { class: 'deny', onclick: send('deny') }, 'Deny'),
    error,
  );
}

function requestCard(r) {
  const answers = r.answers.length === 0 ? null : el('ul', {}, ...r.answers.map((a) => el('li', {}, `${a.verdict === 'approve' ? 'approved' : 'denied'} by ${a.approver.name || a.approver.subject} at ${new Date(a.at).toLocaleString()}${a.comment ? `: "${a.comment}"` : ''}${a.grant_seconds ? ` (grant ${duration(a.grant_seconds)})` : ''}`)));
  const params = r.statement.parameters && r.statement.parameters.length > 0 ? el('p', {}, `Parameters: ${r.statement.parameters.map((p) => (p === null ? 'NULL' : JSON.stringify(p))).join(', ')}`) : null;
  return el(
    'article',
    { class: 'card', 'data-request': r.id },
    el('h2', {}, el('span', { class: `state ${r.state}` }, r.state), `Request ${r.id.slice(0, 8)}`),
    el('pre', {}, r.statement.text),
    params,
    r.statement.literals_shown ? null : el('p', { class: 'empty' }, 'Literals are shown only to approvers.'),
    facts(r),
    answers,
    r.can_answer ? answerForm(r) : null,
  );
}

function grantCard(g) {
  return el(
    'article',
    { class: 'card', 'data-grant': g.id },
    el('h2', {}, el('span', { class: `state ${g.state}` }, g.state), `Grant to ${g.subject}`),
    el('pre', {}, g.statement),
    el('p', {}, `Until ${new Date(g.expires_at).toLocaleString()}, policy commit ${g.revision}, by ${g.granted_by.map((p) => p.name || p.subject).join(', ')}`),
    g.state === 'active'
      ? el('button', { class: 'deny', onclick: async () => { await api(`/approvals/api/grants/${encodeURIComponent(g.id)}/revoke`, { method: 'POST', body: '{}' }).catch((e) => alert(e.message)); refresh(); } }, 'Revoke')
      : null,
  );
}

async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  const list = $('list');
  try {
    const focused = document.activeElement && list.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
    if (view === 'grants') {
      const { grants } = await api('/approvals/api/grants');
      list.replaceChildren(...(grants.length === 0 ? [el('p', { class: 'empty' }, 'No grants.')] : grants.map(grantCard)));
    } else {
      const { requests } = await api(`/approvals/api/requests?state=${view === 'inbox' ? 'pending' : 'closed'}`);
      // While someone types a comment, the inbox is not redrawn under their cursor; new requests still count.
      if (!(focused && view === 'inbox')) {
        list.replaceChildren(...(requests.length === 0 ? [el('p', { class: 'empty' }, view === 'inbox' ? 'Nothing waits for an answer.' : 'No answered requests yet.')] : requests.map(requestCard)));
      }
      $('status').textContent = `${view === 'inbox' ? requests.length + ' pending' : ''} · updated ${new Date().toLocaleTimeString()}`;
    }
  } catch (e) {
    $('status').textContent = e.message;
  }
  if (token) timer = setTimeout(refresh, POLL_MS);
}

for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => {
    view = tab.dataset.view;
    for (const t of document.querySelectorAll('[role=tab]')) t.setAttribute('aria-selected', String(t === tab));
    refresh();
  });
}
$('signin-button').addEventListener('click', () => {
  token = $('token').value.trim();
  if (!token) return;
  sessionStorage.setItem('gatehouse-token', token);
  $('signin').hidden = true;
  $('signout').hidden = false;
  refresh();
});
$('signout').addEventListener('click', () => signOut(''));
if (token) {
  $('signout').hidden = false;
  refresh();
} else {
  $('signin').hidden = false;
}
