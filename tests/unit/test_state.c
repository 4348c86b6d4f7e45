// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file (daemon/state.c): what is written reads back; a damaged body is ignored; a file
 * of the previous version (byte-wise FNV-1a hash) still loads, so that an upgraded daemon takes
 * over its predecessor's tables. The header layout below mirrors struct st_hdr of state.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "../../daemon/state.h"
#include "check_main.h"

#define COOKIE 0x5eed1234ull

struct hdr {
	char magic[8];
	uint32_t version;
	uint32_t n_tables;
	uint64_t seq;
	uint64_t netns_cookie;
	char boot_id[40];
	uint64_t body_len;
	uint64_t hash;
};

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bft-test-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void state_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/netns-%llu.state", dir, (unsigned long long)COOKIE);
}

static size_t file_read(uint8_t *buf, size_t cap)
{
	char path[128];
	FILE *f;
	size_t n;

	state_path(path, sizeof(path));
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, cap, f);
	ck_assert_int_eq(feof(f), 1);
	fclose(f);
	return n;
}

static void file_write(const uint8_t *buf, size_t n)
{
	char path[128];
	FILE *f;

	state_path(path, sizeof(path));
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* A table whose payload length is not a multiple of the hash's 32-byte blocks nor of 8. */
#define PAYLOAD_LEN 1001u
#define N_ENTRIES 3u

static void write_state(void)
{
	struct xt_counters bases[N_ENTRIES] = {{1, 100}, {2, 200}, {3, 300}};
	struct bfd_state *st = NULL;
	struct bfd_state_table *t;

	ck_assert_int_eq(bfd_state_open(dir, COOKIE, NULL, &st), 0);
	t = bfd_state_table(st, NFPROTO_IPV4, "filter", true);
	ck_assert_ptr_nonnull(t);
	/* A state file already there (the second call) loaded its own payload: replaced. */
	free(t->payload);
	t->payload = malloc(PAYLOAD_LEN);
	ck_assert_ptr_nonnull(t->payload);
	for (uint32_t i = 0; i < PAYLOAD_LEN; i++)
		((uint8_t *)t->payload)[i] = (uint8_t)(i * 7 + 1);
	t->payload_len = PAYLOAD_LEN;
	ck_assert_int_eq(bfd_state_table_reset(t, N_ENTRIES, bases), 0);
	ck_assert_int_eq(bfd_state_table_add_gen(t, 42), 0);
	ck_assert_int_eq(bfd_state_write(st), 0);
	bfd_state_free(st);
}

/* 1 if the state file loads with the table write_state() wrote, 0 if it was ignored. */
static int loads(void)
{
	struct bfd_state *st = NULL;
	struct bfd_state_table *t;
	int ok;

	ck_assert_int_eq(bfd_state_open(dir, COOKIE, NULL, &st), 0);
	t = bfd_state_table(st, NFPROTO_IPV4, "filter", false);
	ok = t != NULL;
	if (t) {
		ck_assert_uint_eq(t->payload_len, PAYLOAD_LEN);
		for (uint32_t i = 0; i < PAYLOAD_LEN; i++)
			ck_assert_uint_eq(((uint8_t *)t->payload)[i], (uint8_t)(i * 7 + 1));
		ck_assert_uint_eq(t->n_entries, N_ENTRIES);
		ck_assert_uint_eq(t->bases[2].pcnt, 3);
		ck_assert_uint_eq(t->bases[2].bcnt, 300);
		ck_assert_uint_eq(t->n_gens, 1);
		ck_assert_uint_eq(t->gens[0], 42);
	}
	bfd_state_free(st);
	return ok;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint8_t buf[1 << 16];

START_TEST(roundtrip)
{
	mkdir_tmp();
	write_state();
	ck_assert_int_eq(loads(), 1);
	rm_tmp();
}
END_TEST

START_TEST(damaged_body_ignored)
{
	size_t n, hl = sizeof(struct hdr);

	mkdir_tmp();
	write_state();
	n = file_read(buf, sizeof(buf));
	ck_assert_uint_gt(n, hl + PAYLOAD_LEN);
	/* Every byte counts, whichever lane and block it falls in. */
	for (size_t off = hl; off < n; off += 37) {
		buf[off] ^= 0x10;
		file_write(buf, n);
		ck_assert_msg(loads() == 0, "a flipped bit at %zu was not seen", off);
		buf[off] ^= 0x10;
	}
	/* Two swapped 8-byte words at the payload's start (the body ends with it, padded to 8). */
	{
		uint8_t w[8];
		size_t a = n - ((PAYLOAD_LEN + 7) & ~7u);

		memcpy(w, buf + a, 8);
		memcpy(buf + a, buf + a + 8, 8);
		memcpy(buf + a + 8, w, 8);
		if (memcmp(buf + a, buf + a + 8, 8)) {
			file_write(buf, n);
			ck_assert_int_eq(loads(), 0);
		}
		memcpy(buf + a + 8, buf + a, 8);
		memcpy(buf + a, w, 8);
	}
	/* A truncated file. */
	file_write(buf, n - 8);
	ck_assert_int_eq(loads(), 0);
	file_write(buf, n);
	ck_assert_int_eq(loads(), 1);
	rm_tmp();
}
END_TEST

START_TEST(version1_still_read)
{
	struct hdr h;
	size_t n;

	mkdir_tmp();
	write_state();
	n = file_read(buf, sizeof(buf));
	memcpy(&h, buf, sizeof(h));
	ck_assert_uint_eq(h.version, 2);
	h.version = 1;
	h.hash = fnv1a(buf + sizeof(h), n - sizeof(h));
	memcpy(buf, &h, sizeof(h));
	file_write(buf, n);
	ck_assert_int_eq(loads(), 1);
	/* A version-1 header whose hash is the version 2 one: not read. */
	write_state();
	n = file_read(buf, sizeof(buf));
	memcpy(&h, buf, sizeof(h));
	h.version = 1;
	memcpy(buf, &h, sizeof(h));
	file_write(buf, n);
	ck_assert_int_eq(loads(), 0);
	/* An unknown version: not read. */
	h.version = 3;
	memcpy(buf, &h, sizeof(h));
	file_write(buf, n);
	ck_assert_int_eq(loads(), 0);
	rm_tmp();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, damaged_body_ignored);
	tcase_add_test(tc, version1_still_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bf_check_run(suite());
}
