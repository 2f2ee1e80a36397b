/*
 * SHA-256 (FIPS 180-4), for checksumming snapshot exports. A plain streaming digest: init,
 * update any number of times with pieces of any size, final. No allocation, no I/O; a context
 * belongs to one thread at a time. The hash of an export is most of what exporting and
 * importing cost, so the CPU's SHA instructions are used where it has them.
 */
#ifndef SNAPFS_SHA256_H
#define SNAPFS_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32

struct sha256 {
	uint32_t h[8];        /* the intermediate hash value */
	uint64_t len;         /* bytes fed so far */
	uint8_t block[64];    /* a partial block waiting for more input */
	size_t used;          /* bytes in block */
};

/* Start a new digest in ctx. */
void sha256_init(struct sha256 *ctx);

/* Feed n bytes at data (n may be 0, data NULL only then). */
void sha256_update(struct sha256 *ctx, const void *data, size_t n);

/* Pad, finish and write the digest to out; ctx must be initialized again before reuse. */
void sha256_final(struct sha256 *ctx, uint8_t out[SHA256_SIZE]);

/*
 * The compression in use: "x86-sha" (the CPU's SHA extensions, taken where cpuid reports them)
 * or "portable". sha256_use_portable(true) forces the portable one, so that tests check both.
 */
const char *sha256_impl(void);
void sha256_use_portable(bool on);

/* Write digest as 64 lowercase hex digits and a NUL to out. */
void sha256_hex(const uint8_t digest[SHA256_SIZE], char out[2 * SHA256_SIZE + 1]);

#endif
