-- Installed by `gatehouse db setup` (CREATE EXTENSION gatehouse_mask, as a superuser) after it has
-- created role gatehouse_mask_owner, schema gatehouse and table gatehouse.gatehouse_mask_key.
-- Replaces the PL/pgSQL gatehouse_mask_digest and gatehouse_mask_hash with C functions of the
-- same names, signatures and outputs; db setup grants EXECUTE afterwards, as for the PL/pgSQL ones.
\echo Use "CREATE EXTENSION gatehouse_mask" to load this file. \quit

DROP FUNCTION IF EXISTS gatehouse.gatehouse_mask_hash(pg_catalog.text, pg_catalog.text);
DROP FUNCTION IF EXISTS gatehouse.gatehouse_mask_digest(pg_catalog.text, pg_catalog.text, pg_catalog.text);

-- STABLE, not IMMUTABLE: a constant argument must not be folded into a cached plan or an index,
-- where the value would outlive a key rotation. SECURITY DEFINER: the key is read as the owner.
CREATE FUNCTION gatehouse.gatehouse_mask_digest(domain pg_catalog.text, purpose pg_catalog.text, v pg_catalog.text)
  RETURNS pg_catalog.bytea LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
  AS 'MODULE_PATHNAME', 'gatehouse_mask_digest';
CREATE FUNCTION gatehouse.gatehouse_mask_hash(domain pg_catalog.text, v pg_catalog.text)
  RETURNS pg_catalog.text LANGUAGE c STABLE STRICT PARALLEL SAFE SECURITY DEFINER
  AS 'MODULE_PATHNAME', 'gatehouse_mask_hash';
-- How many times this backend has read the key (tests of the cache and its invalidation).
CREATE FUNCTION gatehouse.gatehouse_mask_key_loads() RETURNS pg_catalog.int8 LANGUAGE c VOLATILE
  AS 'MODULE_PATHNAME', 'gatehouse_mask_key_loads';
-- A row write sends no relcache invalidation: this trigger sends one at commit, so every backend
-- drops its cached pads and reads the new key in its next transaction.
CREATE FUNCTION gatehouse.gatehouse_mask_key_changed() RETURNS trigger LANGUAGE c
  AS 'MODULE_PATHNAME', 'gatehouse_mask_key_changed';
CREATE TRIGGER gatehouse_mask_key_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gatehouse.gatehouse_mask_key
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse.gatehouse_mask_key_changed();

ALTER FUNCTION gatehouse.gatehouse_mask_digest(pg_catalog.text, pg_catalog.text, pg_catalog.text) OWNER TO gatehouse_mask_owner;
ALTER FUNCTION gatehouse.gatehouse_mask_hash(pg_catalog.text, pg_catalog.text) OWNER TO gatehouse_mask_owner;
ALTER FUNCTION gatehouse.gatehouse_mask_key_loads() OWNER TO gatehouse_mask_owner;
ALTER FUNCTION gatehouse.gatehouse_mask_key_changed() OWNER TO gatehouse_mask_owner;
REVOKE ALL ON FUNCTION gatehouse.gatehouse_mask_digest(pg_catalog.text, pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gatehouse.gatehouse_mask_hash(pg_catalog.text, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION gatehouse.gatehouse_mask_key_loads() FROM PUBLIC;
REVOKE ALL ON FUNCTION gatehouse.gatehouse_mask_key_changed() FROM PUBLIC;
