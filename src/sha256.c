/*
 * sha256.c computes SHA-256 as FIPS 180-4 section 6.2 describes it: the message is padded to a
 * multiple of 512 bits (a 1 bit, zeros, the bit length as a 64-bit big-endian integer), and
 * each 512-bit block goes through a 64-round compression over eight 32-bit words. Words are
 * read big-endian byte by byte, so the code does not depend on the host's byte order.
 *
 * On x86-64 with the SHA extensions (cpuid, asked once), the same compression runs on the
 * CPU's SHA256RNDS2/MSG1/MSG2 instructions, several times faster; the unit test checks both
 * against the FIPS vectors and each other.
 */
#include "sha256.h"

#include <stdbool.h>
#include <string.h>

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* Run the compression function over one 64-byte block. */
static void compress(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	unsigned i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	k = h[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] +
		     w[i];
		t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
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
	h[7] += k;
}

/* ---- the x86 SHA extensions ------------------------------------------------------------- */

/*
 * SHA256RNDS2 runs two rounds on the state split in two registers, {A,B,E,F} and {C,D,G,H}
 * (A in the highest lane), with W+K of the two rounds in the low lanes of a third; after two
 * rounds the old {A,B,E,F} is the new {C,D,G,H}, so the registers alternate. SHA256MSG1 and
 * SHA256MSG2 compute four words of the message schedule: MSG1 the W[t-16] + sigma0(W[t-15])
 * part, MSG2 the sigma1(W[t-2]) part, with W[t-7] added in between.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_SHA 1
#include <cpuid.h>
#include <immintrin.h>

__attribute__((target("sha,sse4.1,ssse3")))
static void compress_x86(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i abef, cdgh, tmp, m[4], w, wk;

	/* h[0..7] = A..H into {A,B,E,F} and {C,D,G,H} */
	tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);  /* C D A B */
	cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* E F G H */
	abef = _mm_alignr_epi8(tmp, cdgh, 8);
	cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);
	for (; nblocks > 0; nblocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;

		for (unsigned i = 0; i < 4; i++)
			m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)),
						bswap);
		/* group g: rounds 4g..4g+3; m[g % 4] holds the words of group g - 4 until
		 * replaced by group g's */
		for (unsigned g = 0; g < 16; g++) {
			if (g < 4) {
				w = m[g];
			} else {
				w = _mm_sha256msg1_epu32(m[g % 4], m[(g + 1) % 4]);
				w = _mm_add_epi32(w, _mm_alignr_epi8(m[(g + 3) % 4], m[(g + 2) % 4], 4));
				w = _mm_sha256msg2_epu32(w, m[(g + 3) % 4]);
				m[g % 4] = w;
			}
			wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	/* and back to A..H */
	tmp = _mm_shuffle_epi32(abef, 0x1B);  /* F E B A */
	cdgh = _mm_shuffle_epi32(cdgh, 0xB1); /* D C H G */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(tmp, cdgh, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(cdgh, tmp, 8));
}

/* Whether cpuid reports SHA (leaf 7, EBX bit 29), SSE4.1 and SSSE3 (leaf 1, ECX 19 and 9). */
static bool cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
		return false;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

/* -1 not yet known, 0 portable, 1 x86 SHA; read and written atomically (any thread may ask) */
static int use_x86 = -1;

static bool fast(void)
{
	int v = __atomic_load_n(&use_x86, __ATOMIC_RELAXED);

	if (v < 0) {
#ifdef HAVE_X86_SHA
		v = cpu_has_sha();
#else
		v = 0;
#endif
		__atomic_store_n(&use_x86, v, __ATOMIC_RELAXED);
	}
	return v == 1;
}

/* Compress nblocks 64-byte blocks at p into h. */
static void compress_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
#ifdef HAVE_X86_SHA
	if (nblocks > 0 && fast()) {
		compress_x86(h, p, nblocks);
		return;
	}
#endif
	for (; nblocks > 0; nblocks--, p += 64)
		compress(h, p);
}

const char *sha256_impl(void)
{
	return fast() ? "x86-sha" : "portable";
}

void sha256_use_portable(bool on)
{
	__atomic_store_n(&use_x86, on ? 0 : -1, __ATOMIC_RELAXED);
}

void sha256_init(struct sha256 *ctx)
{
	/* the first 32 bits of the fractional parts of the square roots of the first 8 primes */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->len = 0;
	ctx->used = 0;
}

void sha256_update(struct sha256 *ctx, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t take;

	if (n == 0)
		return;
	ctx->len += n;
	if (ctx->used > 0) {
		take = 64 - ctx->used < n ? 64 - ctx->used : n;
		memcpy(ctx->block + ctx->used, p, take);
		ctx->used += take;
		p += take;
		n -= take;
		if (ctx->used < 64)
			return;
		compress_blocks(ctx->h, ctx->block, 1);
		ctx->used = 0;
	}
	compress_blocks(ctx->h, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	if (n > 0) {
		memcpy(ctx->block, p, n);
		ctx->used = n;
	}
}

void sha256_final(struct sha256 *ctx, uint8_t out[SHA256_SIZE])
{
	uint64_t bits = ctx->len * 8;
	unsigned i;

	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > 56) {
		memset(ctx->block + ctx->used, 0, 64 - ctx->used);
		compress_blocks(ctx->h, ctx->block, 1);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, 56 - ctx->used);
	for (i = 0; i < 8; i++)
		ctx->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress_blocks(ctx->h, ctx->block, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(ctx->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(ctx->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(ctx->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)ctx->h[i];
	}
	ctx->used = 0;
}

void sha256_hex(const uint8_t digest[SHA256_SIZE], char out[2 * SHA256_SIZE + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < SHA256_SIZE; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 15];
	}
	out[2 * SHA256_SIZE] = '\0';
}
