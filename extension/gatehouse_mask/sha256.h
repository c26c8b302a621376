/*
 * sha256.h: SHA-256 (FIPS 180-4) and the HMAC finish gatehouse_mask needs, without a library call
 * per step: a context is a plain struct, so a midstate (after an HMAC pad) is resumed without
 * copying; the block function is the x86 SHA extensions when the CPU has them, else OpenSSL's
 * (when built with GH_WITH_OPENSSL), else portable C.
 */
#ifndef GATEHOUSE_MASK_SHA256_H
#define GATEHOUSE_MASK_SHA256_H

#include <stddef.h>
#include <stdint.h>

/*
 * Not exported from the shared library: another loaded module with the same names must not
 * interpose (PostgreSQL 15's PGXS does not build with -fvisibility=hidden).
 */
#if defined(__GNUC__) || defined(__clang__)
#define GH_SHA256_API __attribute__((visibility("hidden")))
#else
#define GH_SHA256_API
#endif

#define GH_SHA256_BLOCK 64
#define GH_SHA256_DIGEST 32

typedef struct GhSha256
{
	uint32_t	h[8];			/* chaining value */
	uint64_t	bytes;			/* message bytes absorbed so far */
	size_t		used;			/* bytes waiting in buf (< 64) */
	uint8_t		buf[GH_SHA256_BLOCK];
} GhSha256;

/* A piece of a message (gh_hmac_sha256_finish). */
typedef struct GhSlice
{
	const void *data;
	size_t		len;
} GhSlice;

/* Chooses the block function (SHA extensions, else OpenSSL's, else portable); call once before hashing. */
extern GH_SHA256_API void gh_sha256_select(void);

/* Which block function is in use: "sha-ni", "openssl" or "portable". */
extern GH_SHA256_API const char *gh_sha256_impl(void);

/* Forces the portable block function. */
extern GH_SHA256_API void gh_sha256_force_portable(void);

/* Forces "portable" or "openssl" (the tests run each); 0 when this build has no such function. */
extern GH_SHA256_API int gh_sha256_force(const char *impl);

extern GH_SHA256_API void gh_sha256_init(GhSha256 *c);
extern GH_SHA256_API void gh_sha256_update(GhSha256 *c, const void *data, size_t len);
/* Writes the digest; c is left in an unspecified state. */
extern GH_SHA256_API void gh_sha256_final(GhSha256 *c, uint8_t out[GH_SHA256_DIGEST]);

/*
 * HMAC-SHA-256 of a message given in parts, from the midstates after the ipad and opad blocks
 * (neither is modified). The inner hash of a message that fits two blocks (119 bytes) is one call
 * of the block function; the outer hash is one block built from the inner digest's words.
 */
extern GH_SHA256_API void gh_hmac_sha256_finish(const GhSha256 *inner_state, const GhSha256 *outer_state,
												const GhSlice *parts, int nparts,
												uint8_t out[GH_SHA256_DIGEST]);

#endif
