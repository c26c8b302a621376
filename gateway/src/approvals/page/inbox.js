// The approvers' inbox: polls the approval API, lists pending requests (updated without reloading),
// the history and the grants a page at a time (Older appends the next page), and sends answers.
// Everything from the server is shown as text.
'use strict';

const POLL_MS = 2000;
const PAGE = 50;
const MAX_PAGE = 500;
let view = 'inbox';
let token = sessionStorage.getItem('gatehouse-token') || '';
let timer = null;
let seq = 0; // the latest refresh; an older one that answers late draws nothing
const drafts = new Map(); // request id -> comment being typed, kept across refreshes
// The inbox polls its first page, this long: Older makes it a page longer, so all it shows stays live.
let inboxSize = PAGE;
// History and Grants: what is shown, and the cursor of the next page. Polling refreshes the first
// page into it; once Older has appended pages (extended), they stay and keep their cursor.
let loaded = { view: null, items: [], next: null, extended: false };

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
  inboxSize = PAGE;
  loaded = { view: null, items: [], next: null, extended: false };
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

function newestFirst(a, b) {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** `items` with `fresh` in: the fresh version of each, newest first. */
function merged(items, fresh) {
  const byId = new Map(items.map((x) => [x.id, x]));
  for (const x of fresh) byId.set(x.id, x);
  return [...byId.values()].sort(newestFirst);
}

function pagePath() {
  return view === 'grants' ? '/approvals/api/grants?' : '/approvals/api/requests?state=closed&';
}

function pageItems(body) {
  return view === 'grants' ? body.grants : body.requests;
}

/** History and Grants: the first page polled into what is shown (see `loaded`). */
function takeFirstPage(body) {
  const items = pageItems(body);
  if (loaded.view !== view) loaded = { view, items, next: body.next, extended: false };
  else if (!loaded.extended) loaded = { ...loaded, items, next: body.next };
  else loaded = { ...loaded, items: merged(loaded.items, items) };
}

async function older(button) {
  button.disabled = true;
  const at = view;
  try {
    const body = await api(`${pagePath()}limit=${PAGE}&before=${encodeURIComponent(loaded.next)}`);
    if (view !== at || loaded.view !== at) return;
    loaded = { view, items: merged(loaded.items, pageItems(body)), next: body.next, extended: true };
    drawPaged();
  } catch (e) {
    button.disabled = false;
    $('status').textContent = e.message;
  }
}

function olderButton(onclick) {
  return el('button', { class: 'older', onclick: (e) => onclick(e.currentTarget) }, 'Older');
}

function drawPaged() {
  const empty = view === 'grants' ? 'No grants.' : 'No answered requests yet.';
  const cards = loaded.items.length === 0 ? [el('p', { class: 'empty' }, empty)] : loaded.items.map(view === 'grants' ? grantCard : requestCard);
  const more = loaded.next === null ? null : el('p', { class: 'more' }, olderButton(older));
  $('list').replaceChildren(...cards, ...(more === null ? [] : [more]));
}

function drawInbox(body) {
  const { requests } = body;
  const cards = requests.length === 0 ? [el('p', { class: 'empty' }, 'Nothing waits for an answer.')] : requests.map(requestCard);
  let more = null;
  if (body.next !== null) {
    const rest = typeof body.total === 'number' ? body.total - requests.length : null;
    const grow = () => {
      inboxSize = Math.min(MAX_PAGE, inboxSize + PAGE);
      refresh();
    };
    more = el('p', { class: 'more' }, rest === null || rest <= 0 ? 'More pending' : `${rest} more pending`, inboxSize < MAX_PAGE ? ' — ' : null, inboxSize < MAX_PAGE ? olderButton(grow) : null);
  }
  $('list').replaceChildren(...cards, ...(more === null ? [] : [more]));
}

async function revoke(g) {
  try {
    const revoked = await api(`/approvals/api/grants/${encodeURIComponent(g.id)}/revoke`, { method: 'POST', body: '{}' });
    // It may sit on a page the poll no longer fetches: show its new state here.
    if (loaded.view === 'grants') loaded = { ...loaded, items: merged(loaded.items, [revoked]) };
  } catch (e) {
    alert(e.message);
  }
  refresh();
}

function grantCard(g) {
  return el(
    'article',
    { class: 'card', 'data-grant': g.id },
    el('h2', {}, el('span', { class: `state ${g.state}` }, g.state), `Grant to ${g.subject}`),
    el('pre', {}, g.statement),
    el('p', {}, `Until ${new Date(g.expires_at).toLocaleString()}, policy commit ${g.revision}, by ${g.granted_by.map((p) => p.name || p.subject).join(', ')}`),
    g.state === 'active'
      ? el('button', { class: 'deny', onclick: () => revoke(g) }, 'Revoke')
      : null,
  );
}

async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  const mine = ++seq;
  const list = $('list');
  try {
    if (view === 'inbox') {
      const body = await api(`/approvals/api/requests?state=pending&limit=${inboxSize}`);
      if (mine !== seq) return;
      const focused = document.activeElement && list.contains(document.activeElement) && document.activeElement.tagName === 'INPUT';
      // While someone types a comment, the inbox is not redrawn under their cursor; new requests still count.
      if (!focused) drawInbox(body);
      $('status').textContent = `${typeof body.total === 'number' ? body.total : body.requests.length} pending · updated ${new Date().toLocaleTimeString()}`;
    } else {
      const body = await api(`${pagePath()}limit=${PAGE}`);
      if (mine !== seq) return;
      takeFirstPage(body);
      drawPaged();
      $('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
    }
  } catch (e) {
    if (mine !== seq) return;
    $('status').textContent = e.message;
  }
  if (token) timer = setTimeout(refresh, POLL_MS);
}

for (const tab of document.querySelectorAll('[role=tab]')) {
  tab.addEventListener('click', () => {
    view = tab.dataset.view;
    // A tab starts again from its first page.
    inboxSize = PAGE;
    loaded = { view: null, items: [], next: null, extended: false };
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
