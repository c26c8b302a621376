/*
 * sha256-check.c: a test driver for sha256.c (not part of the extension). gateway/test/mask-sha256.test.ts
 * compiles it and compares its answers with node:crypto.
 *
 *   sha256-check auto|portable|openssl <key-hex>
 *
 * First line out: the block function in use ("sha-ni", "openssl" or "portable"); exit status 3 when
 * the build has no OpenSSL block function and "openssl" was asked for. Then, for each line in (a
 * message in hex), one line out: "<sha256-hex> <hmac-sha256-hex>", the HMAC computed as the extension
 * does (gh_hmac_sha256_finish from the midstates after the pads). Updates, and the HMAC's message
 * parts, are split at positions that vary with the line number, so that partial blocks are buffered
 * at every offset and the HMAC takes both its short-message and its general path.
 */
#include "sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex (up to the first character that is not a hex digit) into a malloc'd buffer. */
static uint8_t *
unhex(const char *s, size_t *len)
{
	size_t		n = 0;
	uint8_t    *out;

	while (hexval(s[n]) >= 0)
		n++;
	if (n % 2 != 0)
	{
		fprintf(stderr, "odd hex length\n");
		exit(2);
	}
	out = malloc(n / 2 + 1);
	if (out == NULL)
		exit(2);
	for (size_t i = 0; i < n / 2; i++)
		out[i] = (uint8_t) (hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
	*len = n / 2;
	return out;
}

static void
print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Cuts msg into pieces whose sizes follow from seed (1 to 70 bytes); returns how many (at most max). */
static int
split(const uint8_t *msg, size_t len, unsigned seed, GhSlice *pieces, int max)
{
	size_t		off = 0;
	int			n = 0;

	while (off < len)
	{
		size_t		piece = 1 + (seed = seed * 1103515245u + 12345u) % 70;

		if (piece > len - off || n == max - 1)
			piece = len - off;
		pieces[n++] = (GhSlice) {msg + off, piece};
		off += piece;
	}
	return n;
}

int
main(int argc, char **argv)
{
	uint8_t		block[GH_SHA256_BLOCK] = {0};
	uint8_t		ipad[GH_SHA256_BLOCK];
	uint8_t		opad[GH_SHA256_BLOCK];
	GhSha256	inner_state,
				outer_state;
	size_t		keylen;
	uint8_t    *key;
	static char line[1 << 20];
	unsigned	lineno = 0;

	if (argc != 3)
	{
		fprintf(stderr, "usage: sha256-check auto|portable|openssl <key-hex>\n");
		return 2;
	}
	gh_sha256_select();
	if (strcmp(argv[1], "auto") != 0 && !gh_sha256_force(argv[1]))
	{
		fprintf(stderr, "sha256-check: no %s block function in this build\n", argv[1]);
		return 3;
	}
	key = unhex(argv[2], &keylen);
	if (keylen > GH_SHA256_BLOCK)
	{
		GhSha256	k;

		gh_sha256_init(&k);
		gh_sha256_update(&k, key, keylen);
		gh_sha256_final(&k, block);
	}
	else
		memcpy(block, key, keylen);
	for (int i = 0; i < GH_SHA256_BLOCK; i++)
	{
		ipad[i] = block[i] ^ 0x36;
		opad[i] = block[i] ^ 0x5c;
	}
	gh_sha256_init(&inner_state);
	gh_sha256_update(&inner_state, ipad, sizeof(ipad));
	gh_sha256_init(&outer_state);
	gh_sha256_update(&outer_state, opad, sizeof(opad));

	printf("%s\n", gh_sha256_impl());
	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		size_t		len;
		uint8_t    *msg = unhex(line, &len);
		uint8_t		digest[GH_SHA256_DIGEST],
					mac[GH_SHA256_DIGEST];
		GhSha256	c;
		static GhSlice pieces[1 << 16];
		int			n = split(msg, len, lineno, pieces, 1 << 16);

		gh_sha256_init(&c);
		for (int i = 0; i < n; i++)
			gh_sha256_update(&c, pieces[i].data, pieces[i].len);
		gh_sha256_final(&c, digest);
		n = split(msg, len, lineno * 7 + 1, pieces, 1 << 16);
		gh_hmac_sha256_finish(&inner_state, &outer_state, pieces, n, mac);
		print_hex(digest, sizeof(digest));
		printf(" ");
		print_hex(mac, sizeof(mac));
		printf("\n");
		free(msg);
		lineno++;
	}
	free(key);
	return 0;
}
