// The list, page and count queries of the PostgreSQL approval store (postgres-store.ts): every filter,
// visibility included, in WHERE, so that LIMIT keeps the newest of what the viewer may see; newest
// first by (created_at, id), which the indexes approval_requests_newest and approval_grants_newest serve,
// and a page strictly before its cursor as a row comparison on the same pair.

import type { PageCursor } from './keyset.ts';
import type { GrantQuery, RequestFilter, RequestQuery } from './store.ts';
import type { Viewer } from './visibility.ts';

type Param = (value: unknown) => string;

/** The request list in SQL. */
export function requestListQuery(query: RequestQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p: Param = (v) => `$${params.push(v)}`;
  const where = requestWhere(query, p);
  if (query.before !== undefined) where.push(beforeSql('created_at', 'id', query.before, p));
  const sql = `SELECT doc FROM gatehouse.approval_requests${whereSql(where)} ORDER BY created_at DESC, id DESC LIMIT ${p(query.limit)}`;
  return { sql, params };
}

/** How many requests the filter takes. */
export function requestCountQuery(filter: RequestFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p: Param = (v) => `$${params.push(v)}`;
  return { sql: `SELECT count(*)::int AS n FROM gatehouse.approval_requests${whereSql(requestWhere(filter, p))}`, params };
}

/** The grant list in SQL: grantVisibleTo (visibility.ts) as a join with the grant's request. */
export function grantListQuery(query: GrantQuery): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p: Param = (v) => `$${params.push(v)}`;
  const where: string[] = [];
  const v = query.visibleTo;
  if (v !== undefined) {
    const subject = p(v.subject);
    const issuer = p(v.issuer);
    where.push(
      `((g.subject = ${subject} AND g.doc->>'issuer' = ${issuer}) ` +
        `OR g.doc->'grantedBy' @> pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('subject', ${subject}::text, 'issuer', ${issuer}::text)) ` +
        `OR (r.doc #> '{requirements,approvers}') ?| ${p([...v.groups, ...v.roles])}::text[])`,
    );
  }
  if (query.before !== undefined) where.push(beforeSql('g.created_at', 'g.id', query.before, p));
  const join = v === undefined ? '' : " LEFT JOIN gatehouse.approval_requests r ON r.id::text = g.doc->>'requestId'";
  const sql = `SELECT g.doc FROM gatehouse.approval_grants g${join}${whereSql(where)} ORDER BY g.created_at DESC, g.id DESC LIMIT ${p(query.limit)}`;
  return { sql, params };
}

function requestWhere(filter: RequestFilter, p: Param): string[] {
  const where: string[] = [];
  if (filter.states !== undefined) where.push(`state = ANY(${p(filter.states)}::text[])`);
  if (filter.visibleTo !== undefined) where.push(requestVisibleSql(filter.visibleTo, p));
  if (filter.expiringBy !== undefined) where.push(`expires_at <= ${p(filter.expiringBy)}`);
  if (filter.requester !== undefined) where.push(`(requester_subject = ${p(filter.requester.subject)} AND requester_issuer = ${p(filter.requester.issuer)})`);
  return where;
}

/** requestVisibleTo (visibility.ts) in SQL: a group or role the policy named, or the requester itself. */
function requestVisibleSql(v: Viewer, p: Param): string {
  return `((doc #> '{requirements,approvers}') ?| ${p([...v.groups, ...v.roles])}::text[] OR (requester_subject = ${p(v.subject)} AND requester_issuer = ${p(v.issuer)}))`;
}

/** Strictly after the cursor in newest-first order: one row comparison, which a (created_at, id) index serves. */
function beforeSql(createdAt: string, id: string, cursor: PageCursor, p: Param): string {
  return `(${createdAt}, ${id}) < (${p(cursor.createdAt)}::timestamptz, ${p(cursor.id)}::uuid)`;
}

function whereSql(where: string[]): string {
  return where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
}
