/*
 * sha256.h: SHA-256 (FIPS 180-4) for gatehouse_mask, without a library call per step: a context is a
 * plain struct that a caller copies to resume from a midstate (the HMAC pads), and the block
 * function uses the x86 SHA extensions when the CPU has them, portable C otherwise.
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

/* Chooses the block function (SHA extensions or portable); call once before hashing. */
extern GH_SHA256_API void gh_sha256_select(void);

/* Which block function gh_sha256_select chose: "sha-ni" or "portable". */
extern GH_SHA256_API const char *gh_sha256_impl(void);

/* Forces the portable block function (tests compare both). */
extern GH_SHA256_API void gh_sha256_force_portable(void);

extern GH_SHA256_API void gh_sha256_init(GhSha256 *c);
extern GH_SHA256_API void gh_sha256_update(GhSha256 *c, const void *data, size_t len);
/* Writes the digest; c is left in an unspecified state (copy a midstate before finishing). */
extern GH_SHA256_API void gh_sha256_final(GhSha256 *c, uint8_t out[GH_SHA256_DIGEST]);

/* A piece of a message (gh_sha256_finish_parts). */
typedef struct GhSlice
{
	const void *data;
	size_t		len;
} GhSlice;

/*
 * The digest of what `state` absorbed followed by the parts, leaving `state` unchanged: a midstate
 * is resumed without copying it when the rest fits in two blocks (one call of the block function).
 */
extern GH_SHA256_API void gh_sha256_finish_parts(const GhSha256 *state, const GhSlice *parts, int nparts,
								   uint8_t out[GH_SHA256_DIGEST]);

/*
 * HMAC-SHA-256's outer hash from the opad midstate (64 bytes absorbed): one block holding the
 * inner digest and the padding, so no buffering.
 */
extern GH_SHA256_API void gh_sha256_outer(const GhSha256 *opad_state, const uint8_t inner[GH_SHA256_DIGEST],
							uint8_t out[GH_SHA256_DIGEST]);

#endif
