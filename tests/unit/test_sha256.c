/* Unit tests of sha256.c against the FIPS 180-4 / NIST example vectors. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

/* Digest len bytes of data fed in one piece and return the hex in out. */
static void digest_hex(const void *data, size_t len, char out[65])
{
	struct sha256 ctx;
	uint8_t d[SHA256_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, d);
	sha256_hex(d, out);
}

static void test_sha256_empty(void **state)
{
	char hex[65];

	digest_hex("", 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_abc(void **state)
{
	char hex[65];

	digest_hex("abc", 3, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_448_bits(void **state)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[65];

	assert_int_equal(strlen(m), 56);
	digest_hex(m, strlen(m), hex);
	assert_string_equal(hex,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_896_bits(void **state)
{
	const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
			"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char hex[65];

	assert_int_equal(strlen(m), 112);
	digest_hex(m, strlen(m), hex);
	assert_string_equal(hex,
			    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in pieces of odd sizes that straddle block boundaries. */
static void test_sha256_million_a_in_odd_pieces(void **state)
{
	static const size_t sizes[] = { 1, 63, 65, 7, 127, 0, 1000, 3, 4097 };
	char buf[4097], hex[65];
	struct sha256 ctx;
	uint8_t d[SHA256_SIZE];
	size_t done = 0, i = 0, n;

	memset(buf, 'a', sizeof(buf));
	sha256_init(&ctx);
	while (done < 1000000) {
		n = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];
		if (n > 1000000 - done)
			n = 1000000 - done;
		sha256_update(&ctx, buf, n);
		done += n;
	}
	sha256_final(&ctx, d);
	sha256_hex(d, hex);
	assert_string_equal(hex,
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length around the padding boundary gives the same digest whole or byte by byte. */
static void test_sha256_bytewise_matches_whole(void **state)
{
	uint8_t data[130], a[SHA256_SIZE], b[SHA256_SIZE];
	struct sha256 whole, bytes;
	size_t len, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (len = 0; len <= sizeof(data); len++) {
		sha256_init(&whole);
		sha256_update(&whole, data, len);
		sha256_final(&whole, a);
		sha256_init(&bytes);
		for (i = 0; i < len; i++)
			sha256_update(&bytes, data + i, 1);
		sha256_final(&bytes, b);
		assert_memory_equal(a, b, SHA256_SIZE);
	}
}

/* Pseudo-random bytes (xorshift), the same for the same seed. */
static void fill(uint8_t *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		buf[i] = (uint8_t)seed;
	}
}

static void digest_with(bool portable, const uint8_t *data, size_t len, uint8_t out[SHA256_SIZE])
{
	struct sha256 ctx;

	sha256_use_portable(portable);
	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, out);
}

/* The CPU's instructions and the portable code agree on every length up to 16 blocks and more,
 * and on 4 MiB in pieces that start at odd offsets. */
static void test_sha256_implementations_agree(void **state)
{
	static uint8_t data[4 << 20];
	uint8_t a[SHA256_SIZE], b[SHA256_SIZE];

	fill(data, sizeof(data), 12345);
	for (size_t len = 0; len <= 1100; len++) {
		digest_with(false, data + len % 7, len, a);
		digest_with(true, data + len % 7, len, b);
		assert_memory_equal(a, b, SHA256_SIZE);
	}
	digest_with(false, data, sizeof(data), a);
	digest_with(true, data, sizeof(data), b);
	assert_memory_equal(a, b, SHA256_SIZE);
	sha256_use_portable(false);
}

/* Where the CPU has the SHA extensions (as /proc/cpuinfo says), they are what is used. */
static void test_sha256_uses_the_cpu(void **state)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	bool sha = false;

	assert_non_null(f);
	while (!sha && fgets(line, sizeof(line), f))
		if (strncmp(line, "flags", 5) == 0)
			sha = strstr(line, " sha_ni") && strstr(line, " sse4_1") && strstr(line, " ssse3");
	fclose(f);
	sha256_use_portable(false);
#if defined(__x86_64__)
	assert_string_equal(sha256_impl(), sha ? "x86-sha" : "portable");
#else
	assert_string_equal(sha256_impl(), "portable");
#endif
	sha256_use_portable(true);
	assert_string_equal(sha256_impl(), "portable");
	sha256_use_portable(false);
}

static int with_portable(void **state)
{
	sha256_use_portable(true);
	return 0;
}

static int with_default(void **state)
{
	sha256_use_portable(false);
	return 0;
}

int main(void)
{
	/* the vectors, once with what the CPU offers and once with the portable code */
	const struct CMUnitTest vectors[] = {
		cmocka_unit_test(test_sha256_empty),
		cmocka_unit_test(test_sha256_abc),
		cmocka_unit_test(test_sha256_448_bits),
		cmocka_unit_test(test_sha256_896_bits),
		cmocka_unit_test(test_sha256_million_a_in_odd_pieces),
		cmocka_unit_test(test_sha256_bytewise_matches_whole),
	};
	const struct CMUnitTest both[] = {
		cmocka_unit_test(test_sha256_implementations_agree),
		cmocka_unit_test(test_sha256_uses_the_cpu),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("sha256 (default)", vectors, with_default,
					      with_default);
	failed += cmocka_run_group_tests_name("sha256 (portable)", vectors, with_portable,
					      with_default);
	failed += cmocka_run_group_tests(both, NULL, NULL);
	return failed;
}
