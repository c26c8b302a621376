// Regenerates gateway/src/sql/system-relations-builtin.ts from a real server's pg_class:
//   npx tsx scripts/gen-system-relations.ts postgres://postgres@127.0.0.1:5432/postgres > gateway/src/sql/system-relations-builtin.ts
// gateway/test/system-relations.test.ts checks the file against the server the tests run on.
import { loadSystemRelations, renderBuiltin } from '../gateway/src/pg/system-relations-loader.ts';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const loaded = await loadSystemRelations(url, null);
process.stdout.write(renderBuiltin(loaded.version, loaded.relations));
