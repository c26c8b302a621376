/*
 * sha256-internal.h: what sha256.c shares with its SHA-NI block function (sha256-shani.c); not part
 * of the extension's interface (sha256.h).
 */
#ifndef GATEHOUSE_MASK_SHA256_INTERNAL_H
#define GATEHOUSE_MASK_SHA256_INTERNAL_H

#include "sha256.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define GH_HAVE_SHANI_CODE 1
#endif

/* Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
extern GH_SHA256_API const uint32_t gh_sha256_k[64];

#ifdef GH_HAVE_SHANI_CODE
/* Whether the CPU has the SHA extensions and the SSSE3/SSE4.1 they are used with. */
extern GH_SHA256_API int gh_sha256_cpu_has_shani(void);
/* n blocks of 64 bytes into h. */
extern GH_SHA256_API void gh_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t n);
/* One block given as 16 host-order words into h. */
extern GH_SHA256_API void gh_sha256_words_shani(uint32_t h[8], const uint32_t *m);
#endif

#endif
