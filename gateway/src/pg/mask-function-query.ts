// Which of Gatehouse's mask functions a database has, as the relation snapshot reads them
// (pg/relation-snapshot.ts): the mask rewrite calls gatehouse.gatehouse_mask_hash and, where present,
// gatehouse.gatehouse_mask_last4 (enforce/mask-expressions.ts) with the masked values, so a function
// of that name made by anyone else would receive them raw and could return them as they are. A
// function counts only when it and its schema belong to the role `gatehouse db setup` makes
// (gatehouse_mask_owner, db/mask-functions.ts) or to a superuser: a role that may only create schemas
// in the database (CREATE on it, no superuser) cannot make one that counts (red-team round 18b, R18b-2).
// Then last4 stays the SQL expression and the keyed strategies are refused as not set up.

import { MASK_OWNER_ROLE } from '../db/mask-functions.ts';
import { HASH_FUNCTION, LAST4_FUNCTION } from '../enforce/mask-expressions.ts';

/** The roles whose functions and schema count: the mask owner and superusers. */
const TRUSTED_OWNERS = `SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = '${MASK_OWNER_ROLE}' OR r.rolsuper`;

/** `signature` exists, it and its schema belong to a trusted owner, and the reading role may execute it. */
function trusted(signature: string): string {
  return `coalesce((SELECT pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = pg_catalog.to_regprocedure('${signature}')
       AND p.proowner IN (${TRUSTED_OWNERS}) AND n.nspowner IN (${TRUSTED_OWNERS})), false)`;
}

/** One row: hash, last4 (callable and trusted), superuser (the reading role is one), language (the hash's). */
export const MASK_FUNCTIONS = `SELECT ${trusted(`${HASH_FUNCTION}(text, text)`)} AS hash,
  ${trusted(`${LAST4_FUNCTION}(text)`)} AS last4,
  (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser,
  (SELECT l.lanname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE p.oid = pg_catalog.to_regprocedure('${HASH_FUNCTION}(text, text)')) AS language`;
