/*
 * sha256-shani.c: the SHA-256 block function on the x86 SHA extensions (SHA-NI), for sha256.c, and
 * the CPUID check that chooses it. Compiled for x86 with GCC or clang only (target attributes, so the
 * rest of the build needs no -msha).
 */
#include "sha256-internal.h"

#ifdef GH_HAVE_SHANI_CODE

#include <cpuid.h>
#include <immintrin.h>

/*
 * The SHA extensions keep the state as two vectors, ABEF and CDGH (A in the highest lane), and
 * sha256rnds2 runs two rounds from the low two lanes of a message-plus-constant vector. Four
 * message vectors hold W[t-16..t-1]; sha256msg1/msg2 and an alignr (for W[t-7]) derive the next
 * four words.
 */
#define GH_SHANI __attribute__((target("sha,sse4.1,ssse3")))

/* Four rounds from message vector m (W[4r..4r+3]) and constants K[4r..4r+3]. */
#define ROUNDS4(m, r) \
	do { \
		__m128i wk = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *) &gh_sha256_k[4 * (r)])); \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk); \
		wk = _mm_shuffle_epi32(wk, 0x0E); \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, wk); \
	} while (0)

/* m0 := the next four words from W[t-16..t-13] (m0), W[t-12..] (m1), W[t-8..] (m2), W[t-4..] (m3). */
#define SCHEDULE(m0, m1, m2, m3) \
	(m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

/* The state in SHA-NI's layout, and back. */
#define TO_SHANI(h, abef, cdgh) \
	do { \
		__m128i		dcba_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &(h)[0]), 0xB1); /* B A D C */ \
		__m128i		hgfe_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &(h)[4]), 0x1B); /* H G F E */ \
		(abef) = _mm_alignr_epi8(dcba_, hgfe_, 8);	/* lanes F E B A */ \
		(cdgh) = _mm_blend_epi16(hgfe_, dcba_, 0xF0);	/* lanes H G D C */ \
	} while (0)
#define FROM_SHANI(abef, cdgh, h) \
	do { \
		__m128i		feba_ = _mm_shuffle_epi32((abef), 0x1B);	/* lanes A B E F */ \
		__m128i		dchg_ = _mm_shuffle_epi32((cdgh), 0xB1);	/* lanes G H C D */ \
		_mm_storeu_si128((__m128i *) &(h)[0], _mm_blend_epi16(feba_, dchg_, 0xF0));	/* A B C D */ \
		_mm_storeu_si128((__m128i *) &(h)[4], _mm_alignr_epi8(dchg_, feba_, 8));	/* E F G H */ \
	} while (0)

/* The 64 rounds of one block whose words are m0..m3, added into abef/cdgh. */
GH_SHANI static inline __attribute__((always_inline)) void
rounds_shani(__m128i *abef_io, __m128i *cdgh_io, __m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
	__m128i		abef = *abef_io;
	__m128i		cdgh = *cdgh_io;

	ROUNDS4(m0, 0);
	ROUNDS4(m1, 1);
	ROUNDS4(m2, 2);
	ROUNDS4(m3, 3);
	for (int r = 4; r < 16; r += 4)
	{
		SCHEDULE(m0, m1, m2, m3);
		ROUNDS4(m0, r);
		SCHEDULE(m1, m2, m3, m0);
		ROUNDS4(m1, r + 1);
		SCHEDULE(m2, m3, m0, m1);
		ROUNDS4(m2, r + 2);
		SCHEDULE(m3, m0, m1, m2);
		ROUNDS4(m3, r + 3);
	}
	*abef_io = _mm_add_epi32(*abef_io, abef);
	*cdgh_io = _mm_add_epi32(*cdgh_io, cdgh);
}

GH_SHANI void
gh_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t n)
{
	/* big-endian words from little-endian lanes */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i		abef,
				cdgh;

	TO_SHANI(h, abef, cdgh);
	for (; n > 0; n--, p += GH_SHA256_BLOCK)
		rounds_shani(&abef, &cdgh,
					 _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 0)), bswap),
					 _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 16)), bswap),
					 _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 32)), bswap),
					 _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 48)), bswap));
	FROM_SHANI(abef, cdgh, h);
}

GH_SHANI void
gh_sha256_words_shani(uint32_t h[8], const uint32_t *m)
{
	__m128i		abef,
				cdgh;

	TO_SHANI(h, abef, cdgh);
	rounds_shani(&abef, &cdgh,
				 _mm_loadu_si128((const __m128i *) (m + 0)),
				 _mm_loadu_si128((const __m128i *) (m + 4)),
				 _mm_loadu_si128((const __m128i *) (m + 8)),
				 _mm_loadu_si128((const __m128i *) (m + 12)));
	FROM_SHANI(abef, cdgh, h);
}

#undef ROUNDS4
#undef SCHEDULE
#undef TO_SHANI
#undef FROM_SHANI

int
gh_sha256_cpu_has_shani(void)
{
	unsigned int a,
				b,
				c,
				d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & (1u << 9)) || !(c & (1u << 19)))	/* SSSE3, SSE4.1 */
		return 0;
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b & (1u << 29)) != 0;	/* SHA */
}

#endif
