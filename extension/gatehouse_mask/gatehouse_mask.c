/*
 * gatehouse_mask: Gatehouse's keyed masks in C, with the outputs of the PL/pgSQL functions of
 * gateway/src/db/mask-functions.ts (HMAC-SHA-256 of domain || 0x00 || purpose || 0x00 || value,
 * every part as UTF-8).
 *
 * The key's HMAC pads are read once per backend from gatehouse.gatehouse_mask_key, as the owner of
 * the calling function, and kept as two SHA-256 midstates (after the 64-byte ipad and opad blocks);
 * a call resumes the inner one with the message and finishes the outer hash in one block built from
 * the inner digest (sha256.c: three block compressions for a short value, no allocation, and no
 * library call where the CPU has the SHA extensions; OpenSSL's block function elsewhere). A
 * relcache callback drops the midstates when the key table is invalidated; the statement trigger
 * gatehouse_mask_key_changed() sends that invalidation when the key is written. This code runs in
 * every backend that masks: it allocates only fixed-size results with palloc and reads argument
 * bytes only within their varlena length.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "sha256.h"

PG_MODULE_MAGIC;

/* The backend's local transaction id (moved into vxid in PostgreSQL 17). */
#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

/* The cache's state: empty; valid until an invalidation; or valid for one local transaction only. */
typedef enum KeyScope
{
	KEY_NONE,
	KEY_BACKEND,
	KEY_TRANSACTION
} KeyScope;

static KeyScope key_scope = KEY_NONE;
static LocalTransactionId key_lxid = InvalidLocalTransactionId;	/* for KEY_TRANSACTION */
static uint64 invalidations = 0;	/* bumped by the callback: a load that saw one is not kept */
static bool callback_registered = false;
static Oid	key_relid = InvalidOid;
static GhSha256 inner_state;	/* after absorbing ipad */
static GhSha256 outer_state;	/* after absorbing opad */
static uint64 key_loads = 0;

void		_PG_init(void);

/* Picks the SHA-256 block function for this CPU (SHA extensions, else OpenSSL's, else portable C). */
void
_PG_init(void)
{
	gh_sha256_select();
}

static void
drop_key(void)
{
	key_scope = KEY_NONE;
	explicit_bzero(&inner_state, sizeof(inner_state));
	explicit_bzero(&outer_state, sizeof(outer_state));
}

static void
key_relcache_callback(Datum arg, Oid relid)
{
	/* InvalidOid: the whole relcache is reset (sinval queue overflow) */
	if (relid == InvalidOid || relid == key_relid)
	{
		invalidations++;
		drop_key();
	}
}

/*
 * Reads the pads as the owner of the calling function (already the current user under SECURITY
 * DEFINER). Outside parallel mode the read uses the latest snapshot, taken after the table is
 * locked (which processes pending invalidations): a key committed later sends its invalidation
 * after that snapshot, so the cache cannot keep an older key than the one it read. In parallel mode
 * (no new snapshot allowed) it reads with the query's snapshot and keeps the pads for the current
 * transaction only.
 */
static void
load_key(Oid fn_oid)
{
	HeapTuple	proctup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	uint64		invalidations_before = invalidations;
	bool		parallel = IsInParallelMode();

	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	owner = ((Form_pg_proc) GETSTRUCT(proctup))->proowner;
	ReleaseSysCache(proctup);

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(key_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	drop_key();

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		SPIPlanPtr	plan;
		int			ret;
		bool		isnull1,
					isnull2,
					isnull3;
		bytea	   *ipad,
				   *opad;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "gatehouse_mask: SPI_connect failed");
		/* every name qualified: the caller's search_path changes nothing */
		plan = SPI_prepare("SELECT g.ipad, g.opad, CAST(CAST('gatehouse.gatehouse_mask_key' AS pg_catalog.regclass) AS pg_catalog.oid) "
						   "FROM gatehouse.gatehouse_mask_key g WHERE g.id OPERATOR(pg_catalog.=) 1",
						   0, NULL);
		if (plan == NULL)
			elog(ERROR, "gatehouse_mask: preparing the key read failed");
		if (parallel)
			ret = SPI_execute_plan(plan, NULL, NULL, true, 1);
		else
			ret = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "gatehouse_mask: reading the masking key failed");
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the Gatehouse masking key is missing in this database"),
					 errhint("Run 'gatehouse db setup' for this database.")));
		ipad = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull1));
		opad = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull2));
		key_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull3));
		if (isnull1 || isnull2 || isnull3 || VARSIZE_ANY_EXHDR(ipad) != 64 || VARSIZE_ANY_EXHDR(opad) != 64)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the Gatehouse masking key is malformed"),
					 errhint("Run 'gatehouse db setup --rotate-key' for this database.")));
		gh_sha256_init(&inner_state);
		gh_sha256_update(&inner_state, VARDATA_ANY(ipad), 64);
		gh_sha256_init(&outer_state);
		gh_sha256_update(&outer_state, VARDATA_ANY(opad), 64);
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	key_loads++;
	/* an invalidation seen while reading: the pads serve this transaction, then are read again */
	key_scope = !parallel && invalidations == invalidations_before ? KEY_BACKEND : KEY_TRANSACTION;
	key_lxid = CURRENT_LXID;
}

/* The message's parts in UTF-8 (what convert_to(.., 'UTF8') gives the PL/pgSQL version). */
typedef struct Part
{
	const char *data;
	size_t		len;
} Part;

static Part
utf8_part(text *t)
{
	Part		p = {VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)};

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		/* text holds no NUL byte, so the converted (NUL-terminated) copy's strlen is its length */
		char	   *c = pg_server_to_any(p.data, (int) p.len, PG_UTF8);

		if (c != p.data)
		{
			p.data = c;
			p.len = strlen(c);
		}
	}
	return p;
}

/* HMAC-SHA-256 of domain || 0x00 || purpose || 0x00 || value, into out. */
static void
keyed_digest(FunctionCallInfo fcinfo, Part domain, Part purpose, Part value, unsigned char out[32])
{
	static const unsigned char zero = 0;
	GhSlice		message[5];

	if (key_scope == KEY_NONE || (key_scope == KEY_TRANSACTION && key_lxid != CURRENT_LXID))
		load_key(fcinfo->flinfo->fn_oid);
	message[0] = (GhSlice) {domain.data, domain.len};
	message[1] = (GhSlice) {&zero, 1};
	message[2] = (GhSlice) {purpose.data, purpose.len};
	message[3] = (GhSlice) {&zero, 1};
	message[4] = (GhSlice) {value.data, value.len};
	gh_hmac_sha256_finish(&inner_state, &outer_state, message, 5, out);
}

/* gatehouse_mask_digest(domain, purpose, v) -> bytea: the 32-byte keyed digest the fakes use. */
PG_FUNCTION_INFO_V1(gatehouse_mask_digest);
Datum
gatehouse_mask_digest(PG_FUNCTION_ARGS)
{
	bytea	   *res = (bytea *) palloc(VARHDRSZ + 32);

	keyed_digest(fcinfo, utf8_part(PG_GETARG_TEXT_PP(0)), utf8_part(PG_GETARG_TEXT_PP(1)),
				 utf8_part(PG_GETARG_TEXT_PP(2)), (unsigned char *) VARDATA(res));
	SET_VARSIZE(res, VARHDRSZ + 32);
	PG_RETURN_BYTEA_P(res);
}

/*
 * The inner midstate of one call site of gatehouse_mask_hash (fn_extra) with its domain folded in:
 * domain || 0x00 || 'hash' || 0x00 absorbed after ipad (whole blocks compressed, the rest buffered),
 * so a call absorbs only its value. The rewrite passes the domain as a constant; a call with another
 * domain, or after the key was read again (key_loads changed: a rotation or a new transaction's
 * read), computes it anew. Zeroed when the call site's memory goes (end of the query).
 */
typedef struct DomainState
{
	uint64		loads;			/* key_loads when computed; 0: never */
	int			domain_len;		/* the domain argument's bytes (database encoding) */
	char	   *domain;
	GhSha256	state;
} DomainState;

static void
forget_domain_state(void *arg)
{
	DomainState *ds = (DomainState *) arg;

	explicit_bzero(&ds->state, sizeof(ds->state));
}

static const GhSha256 *
domain_state(FunctionCallInfo fcinfo, text *domain)
{
	static const unsigned char zero = 0;
	DomainState *ds = (DomainState *) fcinfo->flinfo->fn_extra;
	const char *d = VARDATA_ANY(domain);
	int			dlen = (int) VARSIZE_ANY_EXHDR(domain);
	Part		du;

	if (key_scope == KEY_NONE || (key_scope == KEY_TRANSACTION && key_lxid != CURRENT_LXID))
		load_key(fcinfo->flinfo->fn_oid);
	if (ds != NULL && ds->loads == key_loads && ds->domain_len == dlen && memcmp(ds->domain, d, dlen) == 0)
		return &ds->state;
	if (ds == NULL)
	{
		MemoryContextCallback *cb;

		ds = (DomainState *) MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DomainState));
		cb = (MemoryContextCallback *) MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback));
		cb->func = forget_domain_state;
		cb->arg = ds;
		MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, cb);
		fcinfo->flinfo->fn_extra = ds;
	}
	if (ds->domain == NULL || ds->domain_len < dlen)
	{
		if (ds->domain != NULL)
			pfree(ds->domain);
		ds->domain = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, dlen > 0 ? dlen : 1);
	}
	memcpy(ds->domain, d, dlen);
	ds->domain_len = dlen;
	du = utf8_part(domain);
	ds->state = inner_state;
	gh_sha256_update(&ds->state, du.data, du.len);
	gh_sha256_update(&ds->state, &zero, 1);
	gh_sha256_update(&ds->state, "hash", 4);
	gh_sha256_update(&ds->state, &zero, 1);
	ds->loads = key_loads;
	return &ds->state;
}

/* gatehouse_mask_hash(domain, v) -> 'h:' || the first 16 hex digits of the keyed digest (purpose 'hash'). */
PG_FUNCTION_INFO_V1(gatehouse_mask_hash);
Datum
gatehouse_mask_hash(PG_FUNCTION_ARGS)
{
	static const char hexdig[] = "0123456789abcdef";
	const GhSha256 *prefixed = domain_state(fcinfo, PG_GETARG_TEXT_PP(0));
	Part		value = utf8_part(PG_GETARG_TEXT_PP(1));
	GhSlice		message = {value.data, value.len};
	unsigned char mac[32];
	text	   *res = (text *) palloc(VARHDRSZ + 18);
	char	   *p = VARDATA(res);

	gh_hmac_sha256_finish(prefixed, &outer_state, &message, 1, mac);
	*p++ = 'h';
	*p++ = ':';
	for (int i = 0; i < 8; i++)
	{
		*p++ = hexdig[mac[i] >> 4];
		*p++ = hexdig[mac[i] & 15];
	}
	SET_VARSIZE(res, VARHDRSZ + 18);
	PG_RETURN_TEXT_P(res);
}

/*
 * gatehouse_mask_last4(v) -> text: the last4 mask without a key (version 1.1), equal to the SQL
 * expression enforce/mask-expressions.ts writes where the extension is missing:
 *   CASE WHEN char_length(v) <= 4 THEN repeat('*', char_length(v))
 *        ELSE repeat('*', char_length(v) - 4) || right(v, 4) END
 * without the five calls, casts and copies of that expression. An ASCII value (every server
 * encoding is ASCII-compatible) or a single-byte encoding has one byte a character; any other value
 * is counted and cut by the functions char_length and right() use (pg_mbstrlen_with_len,
 * pg_mbcharcliplen), so the output is the SQL expression's for every input. STRICT: NULL stays
 * NULL. IMMUTABLE: no key, no catalog, no setting.
 */
PG_FUNCTION_INFO_V1(gatehouse_mask_last4);
Datum
gatehouse_mask_last4(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = (int) VARSIZE_ANY_EXHDR(t);
	int			nchars;
	int			tail;			/* byte offset where the kept last four characters start */
	text	   *res;
	unsigned char high = 0;

	for (int i = 0; i < len; i++)
		high |= (unsigned char) s[i];
	if (high < 0x80 || pg_database_encoding_max_length() == 1)
	{
		/* one byte a character: ASCII (in every server encoding), or a single-byte encoding */
		nchars = len;
		tail = len > 4 ? len - 4 : len;
	}
	else
	{
		/* what char_length and right() compute, with the same functions */
		nchars = pg_mbstrlen_with_len(s, len);
		tail = nchars > 4 ? pg_mbcharcliplen(s, len, nchars - 4) : len;
	}
	if (nchars <= 4)
	{
		res = (text *) palloc(VARHDRSZ + nchars);
		memset(VARDATA(res), '*', nchars);
		SET_VARSIZE(res, VARHDRSZ + nchars);
	}
	else
	{
		int			stars = nchars - 4;

		res = (text *) palloc(VARHDRSZ + stars + (len - tail));
		memset(VARDATA(res), '*', stars);
		memcpy(VARDATA(res) + stars, s + tail, len - tail);
		SET_VARSIZE(res, VARHDRSZ + stars + (len - tail));
	}
	PG_RETURN_TEXT_P(res);
}

/* How many times this backend has read the key (for tests). */
PG_FUNCTION_INFO_V1(gatehouse_mask_key_loads);
Datum
gatehouse_mask_key_loads(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) key_loads);
}

/* Statement trigger on the key table: every backend drops its cached pads when the write commits. */
PG_FUNCTION_INFO_V1(gatehouse_mask_key_changed);
Datum
gatehouse_mask_key_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "gatehouse_mask_key_changed: not called as a trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
