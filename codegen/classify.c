// SPDX-License-Identifier: GPL-2.0-only
/*
 * First-match classifier (issue [scale]).
 *
 * A *run* is a sequence of consecutive entries inside one region (no region start after its
 * first entry) whose targets are ACCEPT, DROP or QUEUE (which drops) and whose tests are all of
 * the shapes below. Instead of one test per entry, the run makes a few LPM trie lookups that
 * give the index of the first entry of the run the packet matches, then counts that entry (its
 * counter block looked up by index) and applies its verdict; no match continues after the run.
 *
 * Keys. Each entry's tests split into key fields and a guard:
 *   - key: a non-inverted -s or -d prefix (the trie's prefix part, "Y"), optionally the other
 *     address when it is a /32 ("X"), and a non-inverted --dport of tcp/udp covering at most
 *     BF_CL_MAX_PORTS ports (expanded, one key each);
 *   - guard: everything else the entry tests (interfaces, inverted addresses, -p, -f, the rest of
 *     a tcp/udp/icmp match), which must be identical for all entries of a *class*.
 * A run has at most BF_CL_MAX_CLASSES classes. Per class the packet evaluates the guard once
 * (the same emitters as the linear code) and makes one lookup; the smallest index over all classes
 * wins. A trie key is (run, class, dport, X, Y/plen); since LPM returns the longest matching
 * prefix only, each stored prefix holds the minimum index over itself and every stored prefix of
 * the same class that contains it (shorter ones included), which is exactly the first entry of
 * that class whose prefix contains the address.
 *
 * Exactness around hotdrop: a tcp/udp/icmp match hotdrops (truncated header, tcp fragment at
 * offset 1) at the first entry whose IP part matched, before its port tests; a non-first fragment
 * misses. So a class with such a match looks up, for a "bad" packet, a second key without the
 * port ((class | 0x80), X, Y) whose value is the first such entry flagged "hotdrop"; the
 * smallest index over all classes still decides, so an earlier matching entry wins over a later
 * hotdrop, as in ipt_do_table. Entries whose IP part can never match hold no key at all.
 *
 * Values: (index << 2) | (hotdrop << 1) | accept, so the minimum value is the minimum index;
 * 1 << 32 stands for "no entry".
 */
#include "classify.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "bpf_insn.h"
#include "cg_priv.h"
#include "ipmatch.h"
#include "match/common.h"
#include "registry.h"

#define BF_CL_MAX_CLASSES 32
#define BF_CL_MAX_PORTS 16
/* A run pays per class what the linear code pays per entry, and more: below these it is not
 * worth it. */
#define BF_CL_MIN_ENTRIES 8
#define BF_CL_ENTRIES_PER_CLASS 3
#define BF_CL_TAG_BAD 0x80

/* Stack: the key at [fp-120, fp-100), the best value so far at fp-96 (below FP_CNT, abi.h). */
#define FP_KEY (-120)
#define FP_BEST (-96)
#define KEY_DATA 16
#define KEY_FIXED_BITS 96 /* run, class, pad, dport, X */

enum { CL_ADDR_NONE, CL_ADDR_SRC, CL_ADDR_DST };

static bool cl_enabled = true;

void bf_classify_set_enabled(bool on)
{
	cl_enabled = on;
}

/* What the entries of one class share: the guard and which fields the key holds. Compared with
 * memcmp, so always built from zeroed memory. */
struct cl_sig {
	struct ipt_ip ip;	 /* the IP part with the key fields cleared */
	const struct bf_ext *l4; /* tcp, udp or icmp, or NULL */
	union {
		struct xt_tcp tcp;
		struct xt_udp udp;
		struct ipt_icmp icmp;
	} l4data; /* with the keyed dport widened to 0:65535 */
	uint8_t keyed_dport;
	uint8_t xkind, ykind;
};

/* One entry's part of the key. */
struct cl_ent {
	struct cl_sig sig;
	bool dead;     /* the IP part never matches: no key */
	uint32_t x, y; /* network order */
	uint8_t ylen;
	uint16_t plo, phi; /* keyed dport range, host order */
};

struct cl_run {
	uint32_t first, end;
	uint32_t n_classes;
	struct cl_sig *classes;
};

struct cl_key {
	uint8_t d[KEY_DATA];
	uint32_t plen;
	uint32_t val;
};

/* The kernel's struct bpf_lpm_trie_key_u8 with our data. */
struct cl_lpm_key {
	uint32_t prefixlen;
	uint8_t d[KEY_DATA];
};

struct bf_classify {
	uint32_t n_entries;
	int32_t *run_at; /* entry -> run id or -1 */
	struct cl_run *runs;
	uint32_t n_runs;
	uint32_t n_classified;
	int map_fd;
};

struct cl_l4 {
	const struct bf_ext *ext;
	uint32_t hdr_len;
	bool frag1;
};

/* The transport matches whose only side effect is the head check of match/common.h
 * (bf_emit_l4_head): tcp without --tcp-option, udp, icmp. */
static const struct cl_l4 *cl_l4_of(const struct bf_ext *ext)
{
	static const struct cl_l4 tab[] = {
		{&bf_match_tcp, 20, true},
		{&bf_match_udp, 8, false},
		{&bf_match_icmp, 8, false},
	};

	for (unsigned int i = 0; i < BF_ARRAY_SIZE(tab); i++)
		if (tab[i].ext == ext)
			return &tab[i];
	return NULL;
}

/* Prefix length of a contiguous network-order mask, or -1. */
static int mask_len(uint32_t msk_n)
{
	uint32_t m = be32toh(msk_n);
	int len = __builtin_popcount(m);

	if (m != (len ? ~0u << (32 - len) : 0))
		return -1;
	return len;
}

static bool is_verdict(const struct bf_entry *e)
{
	return e->target.kind == BF_TGT_ACCEPT || e->target.kind == BF_TGT_DROP ||
	       e->target.kind == BF_TGT_QUEUE;
}

/* Whether the address test can be a key: non-inverted, non-zero contiguous mask. */
static int addr_keyable(uint32_t addr, uint32_t msk, bool inv, bool *dead)
{
	int len;

	if (inv || !msk)
		return -1;
	len = mask_len(msk);
	if (len < 0)
		return -1;
	if (addr & ~msk)
		*dead = true; /* (a & msk) != addr for every packet */
	return len;
}

/* Split entry e into key and guard; -1 if it cannot be in a run. */
static int cl_entry(const struct bf_table_model *m, const struct bf_entry *e, struct cl_ent *ce)
{
	const struct ipt_ip *ip = &e->ip.v4;
	const struct bf_match *l4m = NULL;
	int slen, dlen;
	bool dead = false;

	memset(ce, 0, sizeof(*ce));
	if (m->family != NFPROTO_IPV4 || !is_verdict(e))
		return -1;
	for (uint32_t k = 0; k < e->n_matches; k++) {
		const struct bf_match *mt = &e->matches[k];

		if (mt->ext == &bf_match_comment)
			continue;
		if (l4m || !cl_l4_of(mt->ext))
			return -1;
		l4m = mt;
	}
	ce->sig.ip = *ip;
	slen = addr_keyable(ip->src.s_addr, ip->smsk.s_addr, ip->invflags & IPT_INV_SRCIP, &dead);
	dlen = addr_keyable(ip->dst.s_addr, ip->dmsk.s_addr, ip->invflags & IPT_INV_DSTIP, &dead);
	if (slen >= 0 && dlen == 32) {
		ce->sig.xkind = CL_ADDR_DST;
		ce->sig.ykind = CL_ADDR_SRC;
	} else if (slen == 32 && dlen >= 0) {
		ce->sig.xkind = CL_ADDR_SRC;
		ce->sig.ykind = CL_ADDR_DST;
	} else if (slen >= 0) {
		ce->sig.ykind = CL_ADDR_SRC;
	} else if (dlen >= 0) {
		ce->sig.ykind = CL_ADDR_DST;
	}
	/* With no address key, Y is a /0 of zeroes and both address tests stay in the guard. */
	if (ce->sig.ykind == CL_ADDR_SRC) {
		ce->y = ip->src.s_addr & ip->smsk.s_addr;
		ce->ylen = (uint8_t)slen;
	} else if (ce->sig.ykind == CL_ADDR_DST) {
		ce->y = ip->dst.s_addr & ip->dmsk.s_addr;
		ce->ylen = (uint8_t)dlen;
	}
	if (ce->sig.xkind == CL_ADDR_SRC)
		ce->x = ip->src.s_addr;
	else if (ce->sig.xkind == CL_ADDR_DST)
		ce->x = ip->dst.s_addr;
	/* Key fields leave the guard. */
	if (ce->sig.xkind == CL_ADDR_SRC || ce->sig.ykind == CL_ADDR_SRC) {
		ce->sig.ip.src.s_addr = 0;
		ce->sig.ip.smsk.s_addr = 0;
	}
	if (ce->sig.xkind == CL_ADDR_DST || ce->sig.ykind == CL_ADDR_DST) {
		ce->sig.ip.dst.s_addr = 0;
		ce->sig.ip.dmsk.s_addr = 0;
	}

	if (l4m) {
		uint16_t lo = 0, hi = UINT16_MAX;
		bool inv = true;

		ce->sig.l4 = l4m->ext;
		if (l4m->ext == &bf_match_tcp) {
			const struct xt_tcp *t = l4m->data;

			if (t->option)
				return -1; /* tcp_find_option has hotdrops of its own */
			ce->sig.l4data.tcp = *t;
			lo = t->dpts[0];
			hi = t->dpts[1];
			inv = t->invflags & XT_TCP_INV_DSTPT;
		} else if (l4m->ext == &bf_match_udp) {
			const struct xt_udp *u = l4m->data;

			/* field by field: the struct has a padding byte */
			ce->sig.l4data.udp.spts[0] = u->spts[0];
			ce->sig.l4data.udp.spts[1] = u->spts[1];
			ce->sig.l4data.udp.dpts[0] = u->dpts[0];
			ce->sig.l4data.udp.dpts[1] = u->dpts[1];
			ce->sig.l4data.udp.invflags = u->invflags;
			lo = u->dpts[0];
			hi = u->dpts[1];
			inv = u->invflags & XT_UDP_INV_DSTPT;
		} else {
			const struct ipt_icmp *ic = l4m->data;

			ce->sig.l4data.icmp.type = ic->type;
			ce->sig.l4data.icmp.code[0] = ic->code[0];
			ce->sig.l4data.icmp.code[1] = ic->code[1];
			ce->sig.l4data.icmp.invflags = ic->invflags;
		}
		if (l4m->ext != &bf_match_icmp && !inv && lo <= hi && (lo || hi != UINT16_MAX) &&
		    hi - lo < BF_CL_MAX_PORTS) {
			ce->sig.keyed_dport = 1;
			ce->plo = lo;
			ce->phi = hi;
			if (l4m->ext == &bf_match_tcp) {
				ce->sig.l4data.tcp.dpts[0] = 0;
				ce->sig.l4data.tcp.dpts[1] = UINT16_MAX;
			} else {
				ce->sig.l4data.udp.dpts[0] = 0;
				ce->sig.l4data.udp.dpts[1] = UINT16_MAX;
			}
		}
	}
	ce->dead = dead;
	return 0;
}

static void put_key(struct cl_key *k, uint32_t run, uint8_t tag, uint16_t dport, uint32_t x,
		    uint32_t y, uint8_t ylen, uint32_t val)
{
	uint32_t run_n = htobe32(run);
	uint16_t dport_n = htobe16(dport);

	memset(k, 0, sizeof(*k));
	memcpy(k->d, &run_n, 4);
	k->d[4] = tag;
	memcpy(k->d + 6, &dport_n, 2);
	memcpy(k->d + 8, &x, 4);
	memcpy(k->d + 12, &y, 4);
	k->plen = KEY_FIXED_BITS + ylen;
	k->val = val;
}

struct keyvec {
	struct cl_key *k;
	size_t n, cap;
};

static int keyvec_push(struct keyvec *v, const struct cl_key *k)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		struct cl_key *p = realloc(v->k, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->k = p;
		v->cap = cap;
	}
	v->k[v->n++] = *k;
	return 0;
}

static int entry_keys(struct keyvec *v, const struct cl_ent *ce, uint32_t run, uint8_t cls,
		      uint32_t idx, bool accept)
{
	struct cl_key k;
	int r = 0;

	if (ce->dead)
		return 0;
	if (ce->sig.keyed_dport) {
		for (uint32_t p = ce->plo; p <= ce->phi; p++) {
			put_key(&k, run, cls, (uint16_t)p, ce->x, ce->y, ce->ylen,
				idx << 2 | accept);
			r = keyvec_push(v, &k);
			if (r)
				return r;
		}
	} else {
		put_key(&k, run, cls, 0, ce->x, ce->y, ce->ylen, idx << 2 | accept);
		r = keyvec_push(v, &k);
		if (r)
			return r;
	}
	if (ce->sig.l4) {
		put_key(&k, run, cls | BF_CL_TAG_BAD, 0, ce->x, ce->y, ce->ylen, idx << 2 | 2);
		r = keyvec_push(v, &k);
	}
	return r;
}

static int key_cmp(const void *a, const void *b)
{
	const struct cl_key *x = a, *y = b;
	int c = memcmp(x->d, y->d, KEY_DATA);

	if (c)
		return c;
	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/* Whether prefix a (shorter or equal) contains prefix b. */
static bool key_contains(const struct cl_key *a, const struct cl_key *b)
{
	uint32_t ya, yb, alen = a->plen - KEY_FIXED_BITS, msk;

	if (a->plen > b->plen || memcmp(a->d, b->d, 12))
		return false;
	memcpy(&ya, a->d + 12, 4);
	memcpy(&yb, b->d + 12, 4);
	msk = alen ? htobe32(~0u << (32 - alen)) : 0;
	return (yb & msk) == ya;
}

/*
 * Sort, merge equal prefixes (first entry wins) and give each prefix the minimum over the stored
 * prefixes containing it: in (address, length) order a prefix's ancestors come before it and
 * its descendants follow it contiguously, so a stack of open ancestors suffices.
 */
static int finish_keys(struct keyvec *v)
{
	_cleanup_free_ size_t *stack = NULL;
	size_t n = 0, sp = 0;

	if (!v->n)
		return 0;
	qsort(v->k, v->n, sizeof(*v->k), key_cmp);
	for (size_t i = 0; i < v->n; i++) {
		if (n && !key_cmp(&v->k[n - 1], &v->k[i])) {
			if (v->k[i].val < v->k[n - 1].val)
				v->k[n - 1].val = v->k[i].val;
			continue;
		}
		v->k[n++] = v->k[i];
	}
	v->n = n;
	stack = malloc(sizeof(*stack) * (n + 1));
	if (!stack)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		while (sp && !key_contains(&v->k[stack[sp - 1]], &v->k[i]))
			sp--;
		if (sp && v->k[stack[sp - 1]].val < v->k[i].val)
			v->k[i].val = v->k[stack[sp - 1]].val;
		stack[sp++] = i;
	}
	return 0;
}

static int fill_map(struct bf_classify *cl, const struct keyvec *v, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct cl_lpm_key lk;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "bf_cls", sizeof(lk), sizeof(uint32_t),
			    (uint32_t)(v->n ? v->n : 1), &opts);
	if (fd < 0) {
		fd = -errno;
		bf_logf(log, BF_LOG_ERR, "classify: cannot create the trie (%zu keys): %s", v->n,
			strerror(-fd));
		return fd;
	}
	cl->map_fd = fd;
	for (size_t i = 0; i < v->n; i++) {
		lk.prefixlen = v->k[i].plen;
		memcpy(lk.d, v->k[i].d, KEY_DATA);
		if (bpf_map_update_elem(fd, &lk, &v->k[i].val, BPF_NOEXIST)) {
			int err = -errno;

			bf_logf(log, BF_LOG_ERR, "classify: cannot insert key %zu/%zu: %s", i, v->n,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

static int sig_find(const struct cl_run *r, const struct cl_sig *s)
{
	for (uint32_t c = 0; c < r->n_classes; c++)
		if (!memcmp(&r->classes[c], s, sizeof(*s)))
			return (int)c;
	return -1;
}

void bf_classify_free(struct bf_classify *cl)
{
	if (!cl)
		return;
	for (uint32_t r = 0; r < cl->n_runs; r++)
		free(cl->runs[r].classes);
	free(cl->runs);
	free(cl->run_at);
	if (cl->map_fd >= 0)
		close(cl->map_fd);
	free(cl);
}

/*
 * Greedy: from each classifiable entry, extend while entries are classifiable, no region starts
 * and the classes fit; keep the run if it is long enough for its number of classes.
 */
static int find_runs(struct bf_classify *cl, const struct bf_table_model *m,
		     const int32_t *region_at, struct keyvec *v)
{
	_cleanup_free_ uint8_t *cls_of = NULL;
	struct cl_ent ce;
	uint32_t i = 0;

	cls_of = malloc(m->n_entries);
	cl->runs = calloc(m->n_entries / BF_CL_MIN_ENTRIES + 1, sizeof(*cl->runs));
	if (!cls_of || !cl->runs)
		return -ENOMEM;
	while (i < m->n_entries) {
		struct cl_run run = {.first = i};
		uint32_t j = i, best = i, best_classes = 0;
		int r;

		run.classes = malloc(sizeof(*run.classes) * BF_CL_MAX_CLASSES);
		if (!run.classes)
			return -ENOMEM;
		for (; j < m->n_entries; j++) {
			int c;

			if (j > i && region_at[j] >= 0)
				break;
			if (cl_entry(m, &m->entries[j], &ce))
				break;
			c = sig_find(&run, &ce.sig);
			if (c < 0) {
				if (run.n_classes == BF_CL_MAX_CLASSES)
					break;
				c = (int)run.n_classes++;
				memcpy(&run.classes[c], &ce.sig, sizeof(ce.sig));
			}
			cls_of[j] = (uint8_t)c;
			/* The longest prefix worth it: classes appear in entry order, so the
			 * first best_classes of them are the prefix's classes. */
			if (j + 1 - i >= BF_CL_MIN_ENTRIES &&
			    j + 1 - i >= BF_CL_ENTRIES_PER_CLASS * run.n_classes) {
				best = j + 1;
				best_classes = run.n_classes;
			}
		}
		if (best == i) {
			free(run.classes);
			i = j > i ? j : i + 1;
			continue;
		}
		j = best;
		run.end = j;
		run.n_classes = best_classes;
		/* Entries are split again rather than kept: 100k of them would weigh 13 MB. */
		for (uint32_t k = i; k < j; k++) {
			r = cl_entry(m, &m->entries[k], &ce);
			if (!r)
				r = entry_keys(v, &ce, cl->n_runs, cls_of[k], k,
					       m->entries[k].target.kind == BF_TGT_ACCEPT);
			if (r) {
				free(run.classes);
				return r < 0 ? r : -EINVAL;
			}
			cl->run_at[k] = (int32_t)cl->n_runs;
		}
		cl->n_classified += j - i;
		cl->runs[cl->n_runs++] = run;
		i = j;
	}
	return 0;
}

int bf_classify_new(const struct bf_table_model *m, const int32_t *region_at,
		    const struct bf_log *log, struct bf_classify **out)
{
	struct bf_classify *cl = calloc(1, sizeof(*cl));
	struct keyvec v = {0};
	int err = 0;

	if (!cl)
		return -ENOMEM;
	cl->map_fd = -1;
	cl->n_entries = m->n_entries;
	cl->run_at = malloc(sizeof(*cl->run_at) * m->n_entries);
	if (!cl->run_at) {
		free(cl);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->n_entries; i++)
		cl->run_at[i] = -1;
	if (cl_enabled)
		err = find_runs(cl, m, region_at, &v);
	if (!err)
		err = finish_keys(&v);
	if (!err && cl->n_runs)
		err = fill_map(cl, &v, log);
	free(v.k);
	if (err) {
		bf_classify_free(cl);
		return err;
	}
	*out = cl;
	return 0;
}

int bf_classify_map_fd(const struct bf_classify *cl)
{
	return cl->map_fd;
}

uint32_t bf_classify_run_end(const struct bf_classify *cl, uint32_t i)
{
	int32_t r = cl->run_at[i];

	if (r < 0 || cl->runs[r].first != i)
		return 0;
	return cl->runs[r].end;
}

void bf_classify_stats(const struct bf_classify *cl, uint32_t *n_entries, uint32_t *n_runs)
{
	*n_entries = cl->n_classified;
	*n_runs = cl->n_runs;
}

/* Copy an address of the packet into the key at `off`, or store zero. */
static void key_addr(struct bf_builder *b, uint8_t kind, int16_t off)
{
	if (kind == CL_ADDR_NONE) {
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, off, 0));
		return;
	}
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7,
			      kind == CL_ADDR_SRC ? BF_PKT_OFF(saddr[0]) : BF_PKT_OFF(daddr[0])));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, off));
}

/* Build the packet's key for (run, tag), look it up, keep the smaller value at FP_BEST. */
static void emit_lookup(struct bf_builder *b, uint32_t run, uint8_t tag, const struct cl_sig *s,
			bool with_dport, bf_label done)
{
	uint32_t run_n = htobe32(run), w;
	uint8_t tagw[4] = {tag, 0, 0, 0};

	bf_comment(b, "key (run %u, class %u%s)", run, tag & ~BF_CL_TAG_BAD,
		   tag & BF_CL_TAG_BAD ? ", hotdrop" : "");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_KEY, KEY_FIXED_BITS + 32));
	memcpy(&w, &run_n, 4);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_KEY + 4, (int32_t)w));
	memcpy(&w, tagw, 4);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_KEY + 8, (int32_t)w));
	if (with_dport) {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(dport)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_KEY + 10));
	}
	key_addr(b, s->xkind, FP_KEY + 12);
	key_addr(b, s->ykind, FP_KEY + 16);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CLASSIFY);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_KEY));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, done);
	/* best = min(best, value) without a branch: a branch per class would give the verifier
	 * one more state to explore at every join. Both are in [0, 2^32]. */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, FP_BEST));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_ARSH, BPF_REG_3, 63));
	bf_emit(b, BF_ALU64_REG(BPF_AND, BPF_REG_1, BPF_REG_3));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_2, FP_BEST));
}

static int emit_class(struct bf_builder *b, enum bf_prog_ctx pctx, uint32_t run, uint8_t c,
		      const struct cl_sig *s, const struct bf_classify_labels *l)
{
	bf_label skip = bf_label_new(b);
	struct bf_entry ge = {0};
	struct bf_emit_ctx ctx = {
		.b = b,
		.family = NFPROTO_IPV4,
		.prog_ctx = pctx,
		.entry = &ge,
		.miss = skip,
		.hotdrop = skip,
		.drop = l->drop,
		.accept = l->accept,
		.cont = skip,
	};
	int r;

	ge.ip.v4 = s->ip;
	bf_comment(b, "class %u: guard", c);
	r = bf_emit_ipmatch(&ctx, &ge);
	if (r)
		return r;
	if (s->l4) {
		const struct cl_l4 *l4 = cl_l4_of(s->l4);
		bf_label bad = bf_label_new(b);

		/* The match's head first: a non-first fragment misses, a bad header hotdrops. */
		bf_emit_l4_head(b, l4->hdr_len, l4->frag1, skip, bad);
		r = s->l4->emit(&ctx, &s->l4data);
		if (r)
			return r;
		emit_lookup(b, run, c, s, s->keyed_dport, skip);
		bf_emit_ja(b, skip);
		bf_label_bind(b, bad);
		emit_lookup(b, run, c | BF_CL_TAG_BAD, s, false, skip);
	} else {
		emit_lookup(b, run, c, s, false, skip);
	}
	bf_label_bind(b, skip);
	return bf_builder_err(b);
}

int bf_classify_emit_run(const struct bf_classify *cl, struct bf_builder *b, enum bf_prog_ctx pctx,
			 uint32_t first, const struct bf_classify_labels *l)
{
	const struct cl_run *run;
	uint32_t id;
	int r;

	if (first >= cl->n_entries || cl->run_at[first] < 0)
		return -EINVAL;
	id = (uint32_t)cl->run_at[first];
	run = &cl->runs[id];
	bf_comment(b, "classified run %u: entries %u..%u, %u classes", id, run->first, run->end - 1,
		   run->n_classes);
	bf_comment(b, "best = 1 << 32 (no entry)");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 32));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_BEST));
	/* Classes of one protocol go together behind one test of it (the minimum does not care
	 * about the order): a packet skips the classes of other protocols at once. */
	for (uint32_t c = 0; c < run->n_classes; c++) {
		const struct ipt_ip *ip = &run->classes[c].ip;
		bool grouped = ip->proto && !(ip->invflags & IPT_INV_PROTO);
		bool seen = false;
		bf_label other;

		for (uint32_t k = 0; k < c && grouped; k++) {
			const struct ipt_ip *kp = &run->classes[k].ip;

			seen |= kp->proto == ip->proto && !(kp->invflags & IPT_INV_PROTO);
		}
		if (seen)
			continue; /* emitted with its group */
		if (!grouped) {
			r = emit_class(b, pctx, id, (uint8_t)c, &run->classes[c], l);
			if (r)
				return r;
			continue;
		}
		other = bf_label_new(b);
		bf_comment(b, "classes of -p %u", ip->proto);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(proto)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ip->proto, other);
		for (uint32_t k = c; k < run->n_classes; k++) {
			const struct ipt_ip *kp = &run->classes[k].ip;

			if (kp->proto != ip->proto || (kp->invflags & IPT_INV_PROTO))
				continue;
			r = emit_class(b, pctx, id, (uint8_t)k, &run->classes[k], l);
			if (r)
				return r;
		}
		bf_label_bind(b, other);
	}

	bf_comment(b, "no entry matched: continue after the run");
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, FP_BEST));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_2, 32));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 0, l->next);
	bf_comment(b, "hotdrop: not counted");
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 2, l->hotdrop);
	bf_comment(b, "counters[best >> 2]: packets++, bytes += pkt->len");
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 2));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 10));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, -8));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_COUNTERS);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, l->fail);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, FP_BEST));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 2));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, BF_CNT_CHUNK - 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 4));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_1));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_0, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_0, BPF_REG_2, 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_7, BF_PKT_OFF(len)));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_0, 8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_0, BPF_REG_2, 8));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, FP_BEST));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 1, l->accept);
	bf_emit_ja(b, l->drop);
	return bf_builder_err(b);
}
