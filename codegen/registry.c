// SPDX-License-Identifier: GPL-2.0-only
/*
 * The explicit list of xtables extensions bpfilter accepts, and the kernel's lookup rules over it
 * (net/netfilter/x_tables.c: xt_find_match, xt_find_target, xt_find_revision). An extension that
 * is not listed here is refused at SET_REPLACE: nothing is stored that the datapath would skip.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <linux/netfilter.h>

#include "ext.h"
#include "registry.h"

static const struct bf_ext *const bf_exts[] = {
	/* targets */
	&bf_target_standard,
	&bf_target_error,
	&bf_target_standard6,
	&bf_target_error6,
	/* REJECT (ipt_REJECT, ip6t_REJECT) and LOG */
	&bf_target_reject,
	&bf_target_reject6,
	&bf_target_log,
	&bf_target_log6,
	/* matches */
	&bf_match_tcp,
	&bf_match_tcp6,
	&bf_match_udp,
	&bf_match_udp6,
	&bf_match_icmp,
	&bf_match_comment,
	&bf_match_multiport,
	&bf_match_multiport6,
	&bf_match_mark,
	&bf_match_length,
	&bf_match_length6,
	&bf_match_ttl,
	&bf_match_hl,
	&bf_match_tos,
	&bf_match_tos6,
	&bf_match_dscp,
	&bf_match_dscp6,
	&bf_match_iprange,
	&bf_match_iprange6,
	&bf_match_pkttype,
	&bf_match_mac,
	&bf_match_tcpmss,
	&bf_match_tcpmss6,
	/* IPv6 */
	&bf_match_icmp6,
	&bf_match_rt,
	&bf_match_frag,
	&bf_match_hbh,
	&bf_match_dst,
	&bf_match_ipv6header,
	&bf_match_conntrack1,
	&bf_match_conntrack2,
	&bf_match_conntrack3,
	&bf_match_state,
	&bf_match_addrtype,
	&bf_match_addrtype1,
	&bf_match_eui64,
	&bf_match_owner,
	/* stateful (doc/stateful.md) */
	&bf_match_limit,
	&bf_match_recent0,
	&bf_match_recent1,
	&bf_match_recent0_6,
	&bf_match_recent1_6,
	&bf_match_hashlimit1,
	&bf_match_hashlimit2,
	&bf_match_hashlimit3,
	&bf_match_hashlimit1_6,
	&bf_match_hashlimit2_6,
	&bf_match_hashlimit3_6,
};

const struct bf_ext *bf_ext_at(unsigned int i)
{
	return i < sizeof(bf_exts) / sizeof(bf_exts[0]) ? bf_exts[i] : NULL;
}

/* One pass of xt_find_match over one family's list: found, -EPROTOTYPE (name with another
 * revision) or -ENOENT. */
static int find_in(enum bf_ext_kind kind, int family, const char *name, uint8_t revision,
		   const struct bf_ext **out)
{
	int err = -ENOENT;

	for (unsigned int i = 0; bf_ext_at(i); i++) {
		const struct bf_ext *e = bf_ext_at(i);

		if (e->kind != kind || e->family != family || strcmp(e->name, name))
			continue;
		if (e->revision == revision) {
			*out = e;
			return 0;
		}
		err = -EPROTOTYPE;
	}
	return err;
}

/* A replace looks every match and target of every entry up three times (translate_table,
 * normalization, decoding), and a table uses few of them: the last answers found are kept
 * (the registry never changes), per thread. At 10k rules the scans with their strcmp() were
 * ~0.6 ms of an append. */
#define EXT_MRU 4
static __thread struct {
	const struct bf_ext *e;
	int family;
	enum bf_ext_kind kind;
	uint8_t revision;
} ext_mru[EXT_MRU];
static __thread unsigned int ext_mru_next;

int bf_ext_find(enum bf_ext_kind kind, int family, const char *name, uint8_t revision,
		const struct bf_ext **out)
{
	const struct bf_ext *e = NULL;
	int err;

	for (unsigned int i = 0; i < EXT_MRU; i++) {
		if (ext_mru[i].e && ext_mru[i].kind == kind && ext_mru[i].family == family &&
		    ext_mru[i].revision == revision && !strcmp(ext_mru[i].e->name, name)) {
			*out = ext_mru[i].e;
			return 0;
		}
	}
	err = find_in(kind, family, name, revision, &e);
	/* As the kernel does, a miss in the family list is retried in NFPROTO_UNSPEC and that
	 * answer (found, EPROTOTYPE or ENOENT) is final. */
	if (err && family != NFPROTO_UNSPEC)
		err = find_in(kind, NFPROTO_UNSPEC, name, revision, &e);
	if (err)
		return err;
	ext_mru[ext_mru_next % EXT_MRU].e = e;
	ext_mru[ext_mru_next % EXT_MRU].family = family;
	ext_mru[ext_mru_next % EXT_MRU].kind = kind;
	ext_mru[ext_mru_next % EXT_MRU].revision = revision;
	ext_mru_next++;
	*out = e;
	return 0;
}

int bf_ext_revision(enum bf_ext_kind kind, int family, const char *name, uint8_t revision)
{
	bool have_name = false;

	/* xt_find_revision looks at the family list and NFPROTO_UNSPEC together. */
	for (unsigned int i = 0; bf_ext_at(i); i++) {
		const struct bf_ext *e = bf_ext_at(i);

		if (e->kind != kind || strcmp(e->name, name))
			continue;
		if (e->family != family && e->family != NFPROTO_UNSPEC)
			continue;
		if (e->revision == revision)
			return 0;
		have_name = true;
	}
	return have_name ? -EPROTONOSUPPORT : -ENOENT;
}
