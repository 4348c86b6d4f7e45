// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness over the table store without a datapath: the blob validator and decoder
 * (SET_REPLACE), SET_ADD_COUNTERS and the getsockopt paths.
 *
 * Input: one selector byte, then a SET_REPLACE payload (struct ipt_replace + entries; the seeds
 * are blobs iptables-legacy-restore sent the kernel, tests/fuzz/seeds). Selector bit 0: SOL_IPV6
 * instead of SOL_IP; bit 1: first set num_counters to the entry count GET_INFO reports for the
 * named table (a seed captured against an older table then still gets past that check); bit 2:
 * through xt_store_setsockopt_take (the store may keep the request as the table). The payload
 * is replaced as sent; when the store accepts it, the table must behave as the kernel's does, which
 * is checked: GET_INFO and GET_ENTRIES agree, what GET_ENTRIES returns can be replaced again and
 * comes back byte for byte, ADD_COUNTERS shows up in GET_ENTRIES and comes back as the old counters
 * of the next replace. Then the same bytes go to every getsockopt and to ADD_COUNTERS as they are.
 */
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <bpfilter/cleanup.h>

#include "../../daemon/xt_store.h"
#include "fuzz_lib.h"

/* Larger inputs only slow the fuzzer down; the validator's size limits are checked by tests. */
#define BF_FUZZ_MAX_INPUT (1u << 20)

struct table_view {
	struct ipt_getinfo info;
	uint8_t *entries; /* info.size bytes, malloc'd */
};

/* Where the fields the checks walk with are: ipt_entry and ip6t_entry differ only in the size of
 * their address part. */
static uint16_t next_offset_at(int level, const uint8_t *e)
{
	uint16_t n;

	memcpy(&n,
	       e + (level == SOL_IP ? offsetof(struct ipt_entry, next_offset)
				    : offsetof(struct ip6t_entry, next_offset)),
	       sizeof(n));
	return n;
}

static size_t counters_at(int level)
{
	return level == SOL_IP ? offsetof(struct ipt_entry, counters)
			       : offsetof(struct ip6t_entry, counters);
}

static void get_table(struct xt_store *s, int level, const char *name, struct table_view *v)
{
	struct ipt_get_entries get = {0};
	uint32_t outlen = 0, new_optlen = 0;
	void *out = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	memcpy(v->info.name, name, sizeof(v->info.name));
	r = xt_store_getsockopt(s, level, IPT_SO_GET_INFO, &v->info, sizeof(v->info),
				sizeof(v->info), &out, &outlen, &new_optlen);
	BF_FUZZ_CHECK(r == 0, "GET_INFO of an installed table: %d", r);
	BF_FUZZ_CHECK(outlen == sizeof(v->info), "GET_INFO answered %u bytes", outlen);
	memcpy(&v->info, out, sizeof(v->info));
	free(out);
	BF_FUZZ_CHECK(v->info.num_entries > 0 && v->info.size > 0, "empty table %u/%u",
		      v->info.num_entries, v->info.size);

	/* One byte more than the table: the kernel's EAGAIN (the table changed size). */
	memcpy(get.name, name, sizeof(get.name));
	get.size = v->info.size + 1;
	out = NULL;
	r = xt_store_getsockopt(s, level, IPT_SO_GET_ENTRIES, &get, sizeof(get),
				sizeof(get) + get.size, &out, &outlen, &new_optlen);
	BF_FUZZ_CHECK(r == -EAGAIN && !out, "GET_ENTRIES with a wrong size: %d", r);

	get.size = v->info.size;
	r = xt_store_getsockopt(s, level, IPT_SO_GET_ENTRIES, &get, sizeof(get),
				sizeof(get) + get.size, &out, &outlen, &new_optlen);
	BF_FUZZ_CHECK(r == 0, "GET_ENTRIES of the size GET_INFO gave: %d", r);
	BF_FUZZ_CHECK(outlen == sizeof(get) + v->info.size, "GET_ENTRIES answered %u bytes",
		      outlen);
	v->entries = malloc(v->info.size);
	BF_FUZZ_CHECK(v->entries, "out of memory");
	memcpy(v->entries, (uint8_t *)out + sizeof(get), v->info.size);
	free(out);
}

/* Calls cb on every entry's counters; checks the entries tile the blob exactly. */
static uint32_t walk_counters(int level, uint8_t *blob, uint32_t size, uint32_t expect,
			      void (*cb)(uint32_t i, struct xt_counters *c, void *ctx), void *ctx)
{
	uint32_t pos = 0, i = 0;

	while (pos < size) {
		uint16_t next = next_offset_at(level, blob + pos);
		struct xt_counters c;

		BF_FUZZ_CHECK(next >= counters_at(level) + sizeof(c) && pos + next <= size,
			      "entry %u at %u: next_offset %u in a %u-byte table", i, pos, next,
			      size);
		memcpy(&c, blob + pos + counters_at(level), sizeof(c));
		cb(i, &c, ctx);
		memcpy(blob + pos + counters_at(level), &c, sizeof(c));
		pos += next;
		i++;
	}
	BF_FUZZ_CHECK(i == expect, "%u entries walked, GET_INFO says %u", i, expect);
	return i;
}

static void expect_counters(uint32_t i, struct xt_counters *c, void *ctx)
{
	const struct xt_counters *want = ctx ? &((const struct xt_counters *)ctx)[i] : NULL;

	BF_FUZZ_CHECK(want ? c->pcnt == want->pcnt && c->bcnt == want->bcnt : !c->pcnt && !c->bcnt,
		      "entry %u counters %llu/%llu", i, (unsigned long long)c->pcnt,
		      (unsigned long long)c->bcnt);
	c->pcnt = c->bcnt = 0;
}

/* Replace with what GET_ENTRIES returned, as libiptc does; returns the old counters. */
static struct xt_counters *replace_with(struct xt_store *s, int level, const struct table_view *v)
{
	size_t len = sizeof(struct ipt_replace) + v->info.size;
	struct ipt_replace *repl = calloc(1, len);
	uint32_t outlen = 0;
	void *out = NULL;
	int r;

	BF_FUZZ_CHECK(repl, "out of memory");
	memcpy(repl->name, v->info.name, sizeof(repl->name));
	repl->valid_hooks = v->info.valid_hooks;
	repl->num_entries = v->info.num_entries;
	repl->size = v->info.size;
	memcpy(repl->hook_entry, v->info.hook_entry, sizeof(repl->hook_entry));
	memcpy(repl->underflow, v->info.underflow, sizeof(repl->underflow));
	repl->num_counters = v->info.num_entries;
	memcpy(repl->entries, v->entries, v->info.size);
	/* Kept by the store (no copy), as the server does: what comes back is checked. */
	r = xt_store_setsockopt_take(s, level, IPT_SO_SET_REPLACE, (void **)&repl, len, &out,
				     &outlen);
	BF_FUZZ_CHECK(r != 0 || !repl, "a replace that succeeded left the request: %d", r);
	free(repl);
	BF_FUZZ_CHECK(r == 0, "replacing a table with its own GET_ENTRIES: %d", r);
	BF_FUZZ_CHECK(outlen == v->info.num_entries * sizeof(struct xt_counters),
		      "%u bytes of old counters for %u entries", outlen, v->info.num_entries);
	return out;
}

static void check_installed(struct xt_store *s, int level, const char *name)
{
	struct table_view a, b;
	struct xt_counters *added, *old;
	struct xt_counters_info *ci;
	size_t cilen;
	int r;

	get_table(s, level, name, &a);
	walk_counters(level, a.entries, a.info.size, a.info.num_entries, expect_counters, NULL);

	free(replace_with(s, level, &a));
	get_table(s, level, name, &b);
	walk_counters(level, b.entries, b.info.size, b.info.num_entries, expect_counters, NULL);
	BF_FUZZ_CHECK(!memcmp(&a.info, &b.info, sizeof(a.info)) &&
			      !memcmp(a.entries, b.entries, a.info.size),
		      "GET_ENTRIES changed after replacing the table with itself");
	free(b.entries);

	/* ADD_COUNTERS, then the next replace must hand the sums back. */
	cilen = sizeof(*ci) + a.info.num_entries * sizeof(struct xt_counters);
	ci = calloc(1, cilen);
	BF_FUZZ_CHECK(ci, "out of memory");
	memcpy(ci->name, name, sizeof(ci->name));
	ci->num_counters = a.info.num_entries;
	added = ci->counters;
	for (uint32_t i = 0; i < a.info.num_entries; i++)
		added[i] = (struct xt_counters){i + 1, 1500ull * (i + 1)};
	r = xt_store_setsockopt(s, level, IPT_SO_SET_ADD_COUNTERS, ci, cilen, &(void *){NULL},
				&(uint32_t){0});
	BF_FUZZ_CHECK(r == 0, "ADD_COUNTERS of the table's size: %d", r);
	get_table(s, level, name, &b);
	walk_counters(level, b.entries, b.info.size, b.info.num_entries, expect_counters, added);
	old = replace_with(s, level, &b);
	for (uint32_t i = 0; i < a.info.num_entries; i++)
		BF_FUZZ_CHECK(old[i].pcnt == added[i].pcnt && old[i].bcnt == added[i].bcnt,
			      "old counter %u: %llu/%llu", i, (unsigned long long)old[i].pcnt,
			      (unsigned long long)old[i].bcnt);
	free(old);
	free(ci);
	free(b.entries);
	free(a.entries);
}

static void fit_num_counters(struct xt_store *s, int level, uint8_t *blob)
{
	struct ipt_replace repl;
	struct ipt_getinfo info = {0};
	uint32_t outlen = 0, new_optlen = 0;
	void *out = NULL;

	memcpy(&repl, blob, sizeof(repl));
	memcpy(info.name, repl.name, sizeof(info.name));
	if (xt_store_getsockopt(s, level, IPT_SO_GET_INFO, &info, sizeof(info), sizeof(info), &out,
				&outlen, &new_optlen) == 0) {
		memcpy(&info, out, sizeof(info));
		repl.num_counters = info.num_entries;
		memcpy(blob, &repl, sizeof(repl));
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t get_optlens[] = {sizeof(struct ipt_getinfo),
					       sizeof(struct ipt_get_entries),
					       sizeof(struct xt_get_revision), 0};
	struct xt_store *s = NULL;
	uint32_t outlen = 0, new_optlen;
	uint8_t *blob;
	void *out = NULL;
	size_t len;
	int level, r;

	if (size < 1 || size > BF_FUZZ_MAX_INPUT)
		return 0;
	level = data[0] & 1 ? SOL_IPV6 : SOL_IP;
	len = size - 1;
	/* An exact-size copy: ASan sees any read past the caller's buffer. */
	blob = malloc(len ? len : 1);
	BF_FUZZ_CHECK(blob, "out of memory");
	memcpy(blob, data + 1, len);
	BF_FUZZ_CHECK(xt_store_new(NULL, &bf_fuzz_log, &s) == 0, "xt_store_new");

	if ((data[0] & 2) && len >= sizeof(struct ipt_replace))
		fit_num_counters(s, level, blob);
	if (data[0] & 4) {
		void *own = malloc(len ? len : 1);

		BF_FUZZ_CHECK(own, "out of memory");
		memcpy(own, blob, len);
		r = xt_store_setsockopt_take(s, level, IPT_SO_SET_REPLACE, &own, len, &out,
					     &outlen);
		free(own);
	} else {
		r = xt_store_setsockopt(s, level, IPT_SO_SET_REPLACE, blob, len, &out, &outlen);
	}
	if (r == 0) {
		struct ipt_replace repl;
		char name[XT_TABLE_MAXNAMELEN];

		memcpy(&repl, blob, sizeof(repl));
		BF_FUZZ_CHECK(outlen == repl.num_counters * sizeof(struct xt_counters),
			      "%u bytes of old counters for num_counters %u", outlen,
			      repl.num_counters);
		free(out);
		memcpy(name, repl.name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		check_installed(s, level, name);
	} else {
		BF_FUZZ_CHECK(r < 0 && !out && !outlen, "failed replace: %d, outputs touched", r);
	}

	/* The same bytes as every get request, with each length the kernel checks for. */
	for (int optname = IPT_SO_GET_INFO; optname <= IPT_SO_GET_REVISION_TARGET + 4; optname++) {
		for (size_t i = 0; i < BF_ARRAY_SIZE(get_optlens); i++) {
			uint32_t optlen = get_optlens[i] ? get_optlens[i] : (uint32_t)len;
			uint32_t inlen = len < optlen ? (uint32_t)len : optlen;

			out = NULL;
			outlen = 0;
			r = xt_store_getsockopt(s, level, optname, blob, inlen, optlen, &out,
						&outlen, &new_optlen);
			BF_FUZZ_CHECK(r <= 0 || optname >= IPT_SO_GET_REVISION_MATCH,
				      "getsockopt %d: %d", optname, r);
			BF_FUZZ_CHECK(r < 0 ? !out : outlen <= optlen,
				      "getsockopt %d: %d, %u bytes for optlen %u", optname, r,
				      outlen, optlen);
			free(out);
		}
	}
	out = NULL;
	r = xt_store_setsockopt(s, level, IPT_SO_SET_ADD_COUNTERS, blob, len, &out, &outlen);
	BF_FUZZ_CHECK(r <= 0 && !out, "ADD_COUNTERS: %d", r);

	xt_store_free(s);
	free(blob);
	return 0;
}
