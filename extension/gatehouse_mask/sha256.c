/*
 * sha256.c: SHA-256 (FIPS 180-4) written for gatehouse_mask. A masked value costs three block
 * compressions (two for the inner hash of a short value, one for the outer hash), so the per-call
 * overhead of a general-purpose library interface (provider dispatch, context duplication) showed
 * as much as the compressions themselves; here a midstate is a plain struct and the outer hash is
 * one block built from the inner digest's words. Block functions, the first the CPU and the build
 * allow: the x86 SHA extensions (SHA-NI, sha256-shani.c, chosen at load time with CPUID); OpenSSL's
 * own (SHA256_Transform, built with GH_WITH_OPENSSL: its vectorised code is about twice as fast as
 * portable C on CPUs without SHA-NI, e.g. Intel Xeons before Ice Lake, and uses the ARMv8 SHA-2
 * instructions); portable C. All are checked against node:crypto by the tests.
 */
#include "sha256.h"
#include "sha256-internal.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifdef GH_WITH_OPENSSL
/* SHA256_Transform is deprecated in OpenSSL 3 (still built by default); absent, portable C serves. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#ifdef OPENSSL_NO_DEPRECATED_3_0
#undef GH_WITH_OPENSSL
#endif
#endif


typedef void (*BlockFn) (uint32_t h[8], const uint8_t *blocks, size_t n);
typedef void (*WordsFn) (uint32_t h[8], const uint32_t *m);

/* Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const uint32_t gh_sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Initial chaining value: the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/*
 * Big-endian loads and stores: one byte swap and one 4-byte access where the compiler has the
 * builtin. Written byte by byte, GCC vectorised the digest's eight stores into byte shuffles
 * through the stack whose 16-byte reload of 8-byte stores stalled (store forwarding), the
 * second-hottest place of the HMAC outside the compressions.
 */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint32_t
load_be32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static inline void
store_be32(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}
#else
static inline uint32_t
load_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline void
store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}
#endif

static inline uint32_t
rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

/* One block given as 16 words (already in host order). */
static void
words_portable(uint32_t h[8], const uint32_t *m)
{
	uint32_t	w[64];
	uint32_t	a = h[0],
				b = h[1],
				c = h[2],
				d = h[3],
				e = h[4],
				f = h[5],
				g = h[6],
				hh = h[7];

	memcpy(w, m, 16 * sizeof(uint32_t));
	for (int i = 16; i < 64; i++)
	{
		uint32_t	s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t	s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < 64; i++)
	{
		uint32_t	t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + gh_sha256_k[i] + w[i];
		uint32_t	t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

static void
blocks_portable(uint32_t h[8], const uint8_t *p, size_t n)
{
	for (; n > 0; n--, p += GH_SHA256_BLOCK)
	{
		uint32_t	m[16];

		for (int i = 0; i < 16; i++)
			m[i] = load_be32(p + 4 * i);
		words_portable(h, m);
	}
}


#ifdef GH_WITH_OPENSSL
static void
blocks_openssl(uint32_t h[8], const uint8_t *p, size_t n)
{
	SHA256_CTX	c;				/* SHA256_Transform reads and writes only c.h */

	memcpy(c.h, h, 8 * sizeof(uint32_t));
	for (; n > 0; n--, p += GH_SHA256_BLOCK)
		SHA256_Transform(&c, p);
	memcpy(h, c.h, 8 * sizeof(uint32_t));
}

static void
words_openssl(uint32_t h[8], const uint32_t *m)
{
	uint8_t		block[GH_SHA256_BLOCK];

	for (int i = 0; i < 16; i++)
		store_be32(block + 4 * i, m[i]);
	blocks_openssl(h, block, 1);
}
#endif

static BlockFn blocks = blocks_portable;
static WordsFn words = words_portable;

void
gh_sha256_select(void)
{
#ifdef GH_HAVE_SHANI_CODE
	if (gh_sha256_cpu_has_shani())
	{
		blocks = gh_sha256_blocks_shani;
		words = gh_sha256_words_shani;
		return;
	}
#endif
#ifdef GH_WITH_OPENSSL
	blocks = blocks_openssl;
	words = words_openssl;
#else
	gh_sha256_force_portable();
#endif
}

int
gh_sha256_force(const char *impl)
{
	if (strcmp(impl, "portable") == 0)
	{
		gh_sha256_force_portable();
		return 1;
	}
#ifdef GH_WITH_OPENSSL
	if (strcmp(impl, "openssl") == 0)
	{
		blocks = blocks_openssl;
		words = words_openssl;
		return 1;
	}
#endif
	return 0;
}

const char *
gh_sha256_impl(void)
{
#ifdef GH_WITH_OPENSSL
	if (blocks == blocks_openssl)
		return "openssl";
#endif
	return blocks == blocks_portable ? "portable" : "sha-ni";
}

void
gh_sha256_force_portable(void)
{
	blocks = blocks_portable;
	words = words_portable;
}

void
gh_sha256_init(GhSha256 *c)
{
	memcpy(c->h, H0, sizeof(H0));
	c->bytes = 0;
	c->used = 0;
}

void
gh_sha256_update(GhSha256 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->bytes += len;
	if (c->used > 0)
	{
		size_t		take = GH_SHA256_BLOCK - c->used;

		if (take > len)
			take = len;
		memcpy(c->buf + c->used, p, take);
		c->used += take;
		p += take;
		len -= take;
		if (c->used < GH_SHA256_BLOCK)
			return;
		blocks(c->h, c->buf, 1);
		c->used = 0;
	}
	if (len >= GH_SHA256_BLOCK)
	{
		size_t		whole = len / GH_SHA256_BLOCK;

		blocks(c->h, p, whole);
		p += whole * GH_SHA256_BLOCK;
		len -= whole * GH_SHA256_BLOCK;
	}
	if (len > 0)
	{
		memcpy(c->buf, p, len);
		c->used = len;
	}
}

/* Appends 0x80, zeros and the message length in bits (big-endian), then emits the digest. */
void
gh_sha256_final(GhSha256 *c, uint8_t out[GH_SHA256_DIGEST])
{
	uint64_t	bits = c->bytes * 8;

	c->buf[c->used++] = 0x80;
	if (c->used > GH_SHA256_BLOCK - 8)
	{
		memset(c->buf + c->used, 0, GH_SHA256_BLOCK - c->used);
		blocks(c->h, c->buf, 1);
		c->used = 0;
	}
	memset(c->buf + c->used, 0, GH_SHA256_BLOCK - 8 - c->used);
	store_be32(c->buf + 56, (uint32_t) (bits >> 32));
	store_be32(c->buf + 60, (uint32_t) bits);
	blocks(c->h, c->buf, 1);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

/*
 * Zeroes the two-block tail with eight 16-byte stores. The variable-size memset after the message
 * that this replaces compiled to `rep stos`, whose start-up cost showed as the hottest instruction
 * of the HMAC outside the compressions (perf, on the bench's 100,000 hashes); GCC also turns a
 * constant-size memset or a zeroing loop into it, so the stores are written out.
 */
static inline void
zero_tail(uint8_t tail[2 * GH_SHA256_BLOCK])
{
#ifdef __SSE2__
	const __m128i z = _mm_setzero_si128();

	_mm_storeu_si128((__m128i *) (tail + 0), z);
	_mm_storeu_si128((__m128i *) (tail + 16), z);
	_mm_storeu_si128((__m128i *) (tail + 32), z);
	_mm_storeu_si128((__m128i *) (tail + 48), z);
	_mm_storeu_si128((__m128i *) (tail + 64), z);
	_mm_storeu_si128((__m128i *) (tail + 80), z);
	_mm_storeu_si128((__m128i *) (tail + 96), z);
	_mm_storeu_si128((__m128i *) (tail + 112), z);
#else
	memset(tail, 0, 2 * GH_SHA256_BLOCK);
#endif
}

void
gh_hmac_sha256_finish(const GhSha256 *inner_state, const GhSha256 *outer_state,
					  const GhSlice *parts, int nparts, uint8_t out[GH_SHA256_DIGEST])
{
	uint8_t		tail[2 * GH_SHA256_BLOCK];
	uint32_t	m[16];			/* inner digest words, then the outer block */
	uint32_t	h[8];
	size_t		total = inner_state->used;

	for (int i = 0; i < nparts; i++)
		total += parts[i].len;
	if (total + 9 <= sizeof(tail))
	{
		/* buffered bytes, the parts, 0x80, zeros, the length in bits: one or two blocks, one call */
		size_t		nblocks = total + 9 <= GH_SHA256_BLOCK ? 1 : 2;
		uint64_t	bits = (inner_state->bytes - inner_state->used + total) * 8;
		size_t		at = inner_state->used;

		zero_tail(tail);
		memcpy(tail, inner_state->buf, inner_state->used);
		for (int i = 0; i < nparts; i++)
		{
			memcpy(tail + at, parts[i].data, parts[i].len);
			at += parts[i].len;
		}
		tail[total] = 0x80;
		store_be32(tail + nblocks * GH_SHA256_BLOCK - 8, (uint32_t) (bits >> 32));
		store_be32(tail + nblocks * GH_SHA256_BLOCK - 4, (uint32_t) bits);
		memcpy(m, inner_state->h, sizeof(inner_state->h));
		blocks(m, tail, nblocks);
	}
	else
	{
		GhSha256	c = *inner_state;
		uint8_t		digest[GH_SHA256_DIGEST];

		for (int i = 0; i < nparts; i++)
			gh_sha256_update(&c, parts[i].data, parts[i].len);
		gh_sha256_final(&c, digest);
		for (int i = 0; i < 8; i++)
			m[i] = load_be32(digest + 4 * i);
		explicit_bzero(&c, sizeof(c));
	}
	/* outer: opad (64 bytes, absorbed) || inner digest (32): one block of 768 bits, as words */
	m[8] = 0x80000000u;
	memset(&m[9], 0, 6 * sizeof(uint32_t));
	m[15] = (GH_SHA256_BLOCK + GH_SHA256_DIGEST) * 8;
	memcpy(h, outer_state->h, sizeof(h));
	words(h, m);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, h[i]);
}
