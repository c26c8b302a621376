-- gatehouse_mask 1.1: the last4 mask in C. A new database gets 1.0 and then this script
-- (CREATE EXTENSION follows the update path); one set up with 1.0 gets it from `gatehouse db setup`
-- (ALTER EXTENSION gatehouse_mask UPDATE, as a superuser), which then grants EXECUTE to Gatehouse's
-- upstream role. Until then Gatehouse writes last4 as an SQL expression with the same output.
\echo Use "ALTER EXTENSION gatehouse_mask UPDATE TO '1.1'" to load this file. \quit

-- IMMUTABLE: no key, no catalog, no setting (the output depends on the value and the database
-- encoding only, as char_length's does). Not SECURITY DEFINER: it reads nothing.
CREATE FUNCTION gatehouse.gatehouse_mask_last4(v pg_catalog.text)
  RETURNS pg_catalog.text LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
  AS 'MODULE_PATHNAME', 'gatehouse_mask_last4';

ALTER FUNCTION gatehouse.gatehouse_mask_last4(pg_catalog.text) OWNER TO gatehouse_mask_owner;
REVOKE ALL ON FUNCTION gatehouse.gatehouse_mask_last4(pg_catalog.text) FROM PUBLIC;
