// DDL statements that name their relations as String lists rather than RangeVars (DROP, COMMENT).
import { list, listItems, str, stringList, type AstBody } from './ast.ts';
import type { FactsRecorder } from './facts-recorder.ts';
import { tableRefsFromNames } from './table-ref.ts';

/** DROP/COMMENT object types whose names are relations. */
const RELATION_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE']);

/** DROP TABLE a, s.b: each object is a List of String names. Other object kinds name no table. */
export function dropTargets(body: AstBody, rec: FactsRecorder): void {
  const objtype = str(body, 'removeType');
  if (objtype === null || !RELATION_OBJECTS.has(objtype)) return;
  for (const o of list(body, 'objects')) {
    const names = stringList(listItems(o));
    for (const ref of names === null ? [] : tableRefsFromNames(names, rec.searchPath)) rec.table(ref, 'write');
  }
}

/** COMMENT ON TABLE t / COMMENT ON COLUMN t.c. */
export function commentTargets(body: AstBody, rec: FactsRecorder): void {
  const objtype = str(body, 'objtype');
  const names = stringList(listItems(body['object']));
  if (objtype === null || names === null) return;
  if (objtype === 'OBJECT_COLUMN') {
    const column = names[names.length - 1];
    if (column === undefined) return;
    for (const ref of tableRefsFromNames(names.slice(0, -1), rec.searchPath)) {
      rec.table(ref, 'write');
      rec.column(ref, column);
    }
  } else if (RELATION_OBJECTS.has(objtype)) {
    for (const ref of tableRefsFromNames(names, rec.searchPath)) rec.table(ref, 'write');
  }
}
