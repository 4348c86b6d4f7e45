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
 * Fields. Four fields of an entry can be *keyed*: the source and destination address and the
 * tcp/udp source and destination port. Each keyed field is, per entry, a set of prefixes: an
 * address prefix; an inverted address prefix as its complement (at most 32 prefixes); a port
 * range split into prefixes, an inverted one as the prefixes of the two ranges around it. A
 * /32 address and a range of at most BF_CL_MAX_PORTS ports may instead be *exact*: one key per
 * value, folded into the first lookup. Everything else the entry tests is its *guard*
 * (interfaces, -p, -f, non-contiguous masks, tcp flags, icmp types), which must be identical
 * for all entries of a *class*, and so must the modes (exact / prefix / not keyed) of its
 * fields: the tuple-space idea, one class per field pattern and guard.
 *
 * Lookups. A class evaluates its guard (the same emitters as the linear code), then walks its
 * prefix fields one LPM lookup each, in a fixed order: the first key holds (run, class, exact
 * fields, first prefix field); its value names a *node*, the next key holds (node, next prefix
 * field), and so on; the last value is the smallest entry index. Set pruning makes that exact:
 * a node made for prefix p of a field holds every entry whose prefix for that field contains
 * p (p's own and its stored ancestors'), so the longest match at each level leads to exactly
 * the entries that match the fields so far; at the last level each stored prefix holds the
 * minimum index over itself and its ancestors. A class with no prefix field makes one exact
 * lookup. The smallest index over all classes of the run wins (first match).
 *
 * Exactness around hotdrop: a tcp/udp/icmp match hotdrops (truncated header, tcp fragment at
 * offset 1) at the first entry whose IP part matched, before its port tests; a non-first fragment
 * misses. So a class with such a match looks up, for a "bad" packet, keys built without the port
 * fields (tag | 0x80) whose value is the first such entry flagged "hotdrop"; the smallest index
 * over all classes still decides, so an earlier matching entry wins over a later hotdrop, as in
 * ipt_do_table. Entries whose fields can never match hold no key at all.
 *
 * Values: (index << 2) | (hotdrop << 1) | accept at the last level, so the minimum value is the
 * minimum index; 1 << 32 stands for "no entry". Node values are the next key's first word.
 * Keys per run are bounded (set pruning copies entries under nested prefixes): a run over the
 * bound is left to the linear code.
 *
 * Tries. Each class with prefix fields has a trie of its own (a lookup walks only its class's
 * keys), which programs load by fd (emit_trie; past the verifier's budget of maps, through the
 * generation's ARRAY_OF_MAPS of its key size); the classes without prefix fields share one HASH
 * (BF_MAP_CLASSIFY_EXACT). Values are relative to the run's first
 * entry (the code adds it back) and a trie's keys hold only its class and node numbers within
 * the run, so a trie depends only on what its run contains, not on where the run sits. Tries are
 * immutable once filled and shared between generations (only the outer array and the hash are
 * per generation): the tries of the last table compiled are cached under a 128-bit hash of
 * everything that makes their keys, so a replace that leaves a run as it was (an append or
 * delete elsewhere, a restore of the same rules) reuses its tries instead of building and
 * filling them again, which was most of such a replace's time.
 */
#include "classify.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
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
/* Keys a run may store: set pruning copies the entries of a prefix under every stored prefix
 * it contains, which nested prefixes can make quadratic. */
#define BF_CL_KEYS_PER_ENTRY 32
#define BF_CL_KEYS_SLACK 16384
#define BF_CL_MAX_PFX 64 /* prefixes of one field of one entry (32 for an address, 60 ports) */
#define BF_CL_NODE_BIT 0x80000000u
/* Tries of one table: each is a file descriptor while the table compiles and one more in the
 * cache, and a daemon may run with the usual limit of 1,024. Runs past this stay linear code. */
#define BF_CL_MAX_TRIES 256
/* A class of at most this many entries is tested entry by entry inside the run (the linear
 * code's tests, a few instructions each) rather than with lookups (tens of ns each). */
#define BF_CL_INLINE_MAX 2
/* cls_of of a hole: a jump inside a run, compiled as linear code between its segments. */
#define BF_CL_HOLE 0xff

/* Key: prefixlen, then scope (class or node within the run; run and class in the hash), sport,
 * dport, exact source, exact destination, the prefix field. It is built in pkt->cl_key, and the
 * best value so far is kept in pkt->cl_cur (abi.h says why not on the stack). */
#define PKT_KEY BF_PKT_OFF(cl_key)
#define PKT_BEST BF_PKT_OFF(cl_cur)
#define KEY_DATA 20
#define KEY_FIXED 16 /* bytes before the prefix field */
#define KEY_FIXED_BITS (KEY_FIXED * 8)
/* The short layout of a trie whose class has no exact field (d[4..16) is zero in all its keys):
 * scope and prefix field only. The kernel's trie compares a key with every node it walks from
 * its first byte, 8 bytes at a time: 8 bytes of data instead of 20 is one step per node instead
 * of three. Inner maps of an ARRAY_OF_MAPS share one key size: one outer array per layout. */
#define KEY_SHORT 8
#define KEY_SHORT_FIXED_BITS 32
enum { CL_LONG, CL_SHORT, CL_N_LAYOUTS };
/*
 * Directory of a large short-layout class (DIR-16, as in routing tables): an ARRAY indexed by the
 * top 16 bits of the class's first prefix field, holding what its level-0 lookup returns for
 * every value in that /16 when no key of the class is longer than /16 inside it, DIR_WALK when
 * one is (the trie decides), DIR_NONE when no key matches. A trie lookup walks a node per branch
 * point (about log2 of its keys: 50 ns for 2.5k keys); an array lookup is a few instructions.
 */
#define BF_CL_DIR_SIZE 65536u
#define BF_CL_DIR_MIN 32  /* level-0 keys below which the trie is shallow enough */
#define BF_CL_MAX_DIRS 16 /* 512 KiB each (elements are 8 bytes apart) */
/* An exact class of one port field (per-port accept lists) with at least this many keys is
 * looked up by port in the generation's ARRAY of ports (65,536 entries per class, a lookup the
 * verifier inlines) instead of the hash (18 ns of jhash and bucket walk a lookup). */
#define BF_CL_PORTS_MIN 64
#define BF_CL_MAX_PORT_CLASSES 16 /* 512 KiB each */
#define DIR_NONE 0xffffffffu
#define DIR_WALK 0xfffffffeu
/*
 * Filter of the hash of exact classes: a bit per value of a 20-bit hash of the 16-byte key (its
 * four words xored, times a constant, the top 20 bits), set for every key in the hash. A packet
 * whose bit is clear cannot be in the hash: the lookup (jhash of 16 bytes, a bucket walk: most
 * of the cost of the exact classes of a packet that matches nothing) is skipped for an inlined
 * array load. 128 KiB; about 3 % of the bits set at 30k keys (100k rules of the bench).
 */
#define BF_CL_BITS_LOG 20
#define BF_CL_BITS_WORDS (1u << (BF_CL_BITS_LOG - 6))
#define BF_CL_BITS_MUL 0x9e3779b1u

enum { CF_SPORT, CF_DPORT, CF_SRC, CF_DST, CF_N };
enum { CM_NONE, CM_EXACT, CM_PREFIX };
/* The order prefix fields are looked up in. */
static const uint8_t lpm_order[CF_N] = {CF_SRC, CF_DST, CF_DPORT, CF_SPORT};

static bool cl_enabled = true;

void bf_classify_set_enabled(bool on)
{
	cl_enabled = on;
}

/* What the entries of one class share: the guard and the field modes. Compared with memcmp up
 * to `mode`, so always built from zeroed memory. */
struct cl_sig {
	struct ipt_ip ip;	 /* the IP part with the keyed fields cleared */
	const struct bf_ext *l4; /* tcp, udp or icmp, or NULL */
	union {
		struct xt_tcp tcp;
		struct xt_udp udp;
		struct ipt_icmp icmp;
	} l4data; /* with keyed ports widened to 0:65535, not inverted */
	uint8_t mode[CF_N];
};

/* One entry's keyed values (before they become prefixes or exact values). */
struct cl_val {
	uint32_t addr[2], msk[2]; /* network order: src, dst */
	uint16_t lo[2], hi[2];	  /* host order: sport, dport */
	uint8_t inv;		  /* bit f: field f inverted */
};

struct cl_ent {
	struct cl_sig sig;
	struct cl_val v;
};

/* An entry of a run while its keys are built. */
struct cl_rent {
	struct cl_val v;
	uint32_t idx;
	uint8_t cls;
	uint8_t accept;
};

struct cl_run {
	uint32_t first, end;
	uint32_t n_classes;
	struct cl_sig *classes;
	uint32_t *cls_first;	 /* per class: its first entry */
	uint32_t *cls_size;	 /* per class: its number of entries */
	uint32_t *cls_trie;	 /* per class with a trie: its slot in the outer array */
	int *cls_fd;		 /* per class with a trie: the trie, else -1 */
	uint8_t *cls_exact;	 /* per class: no prefix field, its keys are in the hash */
	bool holes;		 /* it spans jumps: segments between them (bf_classify_run_end) */
	uint64_t (*cls_hash)[2]; /* per class with a trie or exact: what makes its keys (the
				    caches' key) */
	size_t *cls_nkeys;	 /* per class with a trie or exact: its keys */
	size_t *cls_xold; /* per exact class: its entry in the cache of exact keys, else SIZE_MAX */
	size_t *cls_xnew; /* per exact class: its first key in cl->xk */
	uint32_t n_reused;	 /* tries that came from the cache */
	uint32_t n_xreused;	 /* exact classes whose keys came from the cache */
	int *cls_dir;		 /* per class with a trie: its directory, else -1 */
	uint32_t n_dirs;
	int *cls_port; /* per exact class: its block of the ports array, else -1 */
	uint32_t n_ports;
	size_t n_keys;	  /* in its tries and the hash */
	uint64_t hash[2]; /* of the whole run (the cache of runs with too many keys) */
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

struct cl_lpm_key_short {
	uint32_t prefixlen;
	uint8_t d[KEY_SHORT];
};

struct keyvec {
	struct cl_key *k;
	size_t n, cap;
};

struct bf_classify {
	const struct bf_table_model *m; /* for the entries of inline classes */
	uint8_t *cls_of;		/* entry -> class in its run */
	uint32_t n_entries;
	int32_t *run_at; /* entry -> run id or -1 (-1 also for the holes of a run) */
	uint8_t *no_mid; /* entries a run cannot continue into (jump targets, hook entries) */
	const uint8_t *inlined; /* bf_classify_new's: jumps compiled inline, or NULL */
	struct cl_run *runs;
	uint32_t n_runs, runs_cap;
	uint32_t n_classified;
	uint32_t next_node; /* nodes of the run being built */
	uint32_t n_tries;
	uint32_t n_reused; /* tries that came from the cache */
	uint32_t n_dirs;
	/* exact classes in the ports array: their scope (good keys) and port field */
	uint32_t n_ports;
	uint32_t port_scope[BF_CL_MAX_PORT_CLASSES];
	uint8_t port_field[BF_CL_MAX_PORT_CLASSES];
	int ports_fd;
	/* hashes of the ranges whose keys were too many (cached too: finding it out costs as
	 * much as building the tries) */
	uint64_t (*big)[2];
	size_t n_big;
	bool over_tries; /* BF_CL_MAX_TRIES reached */
	/* Per key layout: map_fd[l] is the last table's outer array */
	bool outer_reused[CL_N_LAYOUTS];
	/* Programs load their tries by fd (emit_trie); only one past its budget of maps looks
	 * its trie up in the outer array, which is then filled (bf_classify_finish). */
	bool outer_needed[CL_N_LAYOUTS];
	bool outer_filled[CL_N_LAYOUTS];
	int family;
	struct keyvec xk;	  /* keys of the exact classes of every run */
	uint64_t xk_hash[2];	  /* xk_hash(): what the hash and the ports array hold */
	int map_fd[CL_N_LAYOUTS]; /* outer arrays of the tries of each key layout */
	int exact_fd; /* hash of the exact classes' keys (their 16 bytes before the prefix field) */
	int bits_fd;  /* the hash's filter (BF_CL_BITS bits; make_bits), -1 if none */
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

/*
 * A jump (to a user chain, or to the next entry: a rule without target) may sit inside a run: the
 * run's lookups are made once, before it, and the chain continues after it with the same result
 * (kept per jump stack depth in bf_pkt.cl_best), since nothing a chain does changes the fields and
 * guards a run tests. The jump itself stays linear code, at its place.
 */
static bool is_hole(const struct bf_table_model *m, uint32_t j)
{
	const struct bf_entry *e = &m->entries[j];

	return m->family == NFPROTO_IPV4 && e->target.kind == BF_TGT_JUMP && j + 1 < m->n_entries;
}

/* A jump gen.c compiles inline (the chain's code at the jump, no push) is no hole: the chain's
 * own runs would keep their results at the same jump stack depth. Runs stop before it. */
static bool is_hole_at(const struct bf_classify *cl, const struct bf_table_model *m, uint32_t j)
{
	return is_hole(m, j) && !(cl->inlined && cl->inlined[j]);
}

/* Whether a run may go on through entry j, a region start: only where the chain continues
 * after a hole (the return site of its jump), which is reached only through the run's start. */
static bool may_continue_at(const struct bf_classify *cl, const struct bf_table_model *m,
			    uint32_t j)
{
	return j > 0 && is_hole_at(cl, m, j - 1) && !cl->no_mid[j];
}

/* The natural mode of an address test; a keyed one leaves the guard. */
static uint8_t addr_mode(struct in_addr *a, struct in_addr *m, uint8_t *invflags, uint8_t invbit,
			 struct cl_val *v, int f)
{
	bool inv = *invflags & invbit;
	int len = mask_len(m->s_addr);

	if (len < 0 || (!len && !inv))
		return CM_NONE; /* non-contiguous: tested by the guard; /0: no test */
	v->addr[f - CF_SRC] = a->s_addr;
	v->msk[f - CF_SRC] = m->s_addr;
	if (inv)
		v->inv |= 1u << f;
	a->s_addr = 0;
	m->s_addr = 0;
	*invflags &= (uint8_t)~invbit;
	/* Always a prefix field, even a /32: blocklists mix hosts and networks, and an exact
	 * address would only save a level when two of them are keyed. */
	return CM_PREFIX;
}

/* The natural mode of a port range; a keyed one is widened in the guard. */
static uint8_t port_mode(uint16_t *pts, uint8_t *invflags, uint8_t invbit, struct cl_val *v, int f)
{
	bool inv = *invflags & invbit;

	if (!pts[0] && pts[1] == UINT16_MAX && !inv)
		return CM_NONE;
	v->lo[f] = pts[0];
	v->hi[f] = pts[1];
	if (inv)
		v->inv |= 1u << f;
	pts[0] = 0;
	pts[1] = UINT16_MAX;
	*invflags &= (uint8_t)~invbit;
	return !inv && v->lo[f] <= v->hi[f] && v->hi[f] - v->lo[f] < BF_CL_MAX_PORTS ? CM_EXACT
										     : CM_PREFIX;
}

/* Split entry e into keyed values and guard; -1 if it cannot be in a run. */
static int cl_entry(const struct bf_table_model *m, const struct bf_entry *e, struct cl_ent *ce)
{
	const struct bf_match *l4m = NULL;
	struct cl_sig *s = &ce->sig;

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
	s->ip = e->ip->v4;
	s->mode[CF_SRC] =
		addr_mode(&s->ip.src, &s->ip.smsk, &s->ip.invflags, IPT_INV_SRCIP, &ce->v, CF_SRC);
	s->mode[CF_DST] =
		addr_mode(&s->ip.dst, &s->ip.dmsk, &s->ip.invflags, IPT_INV_DSTIP, &ce->v, CF_DST);
	if (!l4m)
		return 0;
	s->l4 = l4m->ext;
	if (l4m->ext == &bf_match_tcp) {
		const struct xt_tcp *t = l4m->data;

		if (t->option)
			return -1; /* tcp_find_option has hotdrops of its own */
		s->l4data.tcp = *t;
		s->mode[CF_SPORT] = port_mode(s->l4data.tcp.spts, &s->l4data.tcp.invflags,
					      XT_TCP_INV_SRCPT, &ce->v, CF_SPORT);
		s->mode[CF_DPORT] = port_mode(s->l4data.tcp.dpts, &s->l4data.tcp.invflags,
					      XT_TCP_INV_DSTPT, &ce->v, CF_DPORT);
	} else if (l4m->ext == &bf_match_udp) {
		const struct xt_udp *u = l4m->data;

		/* field by field: the struct has a padding byte */
		s->l4data.udp.spts[0] = u->spts[0];
		s->l4data.udp.spts[1] = u->spts[1];
		s->l4data.udp.dpts[0] = u->dpts[0];
		s->l4data.udp.dpts[1] = u->dpts[1];
		s->l4data.udp.invflags = u->invflags;
		s->mode[CF_SPORT] = port_mode(s->l4data.udp.spts, &s->l4data.udp.invflags,
					      XT_UDP_INV_SRCPT, &ce->v, CF_SPORT);
		s->mode[CF_DPORT] = port_mode(s->l4data.udp.dpts, &s->l4data.udp.invflags,
					      XT_UDP_INV_DSTPT, &ce->v, CF_DPORT);
	} else {
		const struct ipt_icmp *ic = l4m->data;

		s->l4data.icmp.type = ic->type;
		s->l4data.icmp.code[0] = ic->code[0];
		s->l4data.icmp.code[1] = ic->code[1];
		s->l4data.icmp.invflags = ic->invflags;
	}
	return 0;
}

/* Prefixes (value in network order in the field's bytes, length) of one 32- or 16-bit field. */
struct cl_pfx {
	uint32_t v; /* host order, left-aligned to bit 31 */
	uint8_t len;
};

/* The prefixes covering [lo, hi] of a `bits`-wide field, left-aligned. */
static int range_pfx(uint32_t lo, uint32_t hi, unsigned int bits, struct cl_pfx *out, int n)
{
	while (lo <= hi) {
		unsigned int k = 0;

		/* the largest aligned block starting at lo that stays inside [lo, hi] */
		while (k < bits && !(lo & (1u << k)) && lo + (2u << k) - 1 <= hi)
			k++;
		if (n >= BF_CL_MAX_PFX)
			return -E2BIG;
		out[n].v = lo << (32 - bits);
		out[n].len = (uint8_t)(bits - k);
		n++;
		if (lo + (1u << k) - 1 >= hi)
			break;
		lo += 1u << k;
	}
	return n;
}

/* The prefixes of field f of an entry (mode CM_PREFIX). */
static int field_pfx(const struct cl_val *v, int f, struct cl_pfx *out)
{
	bool inv = v->inv & (1u << f);

	if (f == CF_SRC || f == CF_DST) {
		uint32_t a = be32toh(v->addr[f - CF_SRC]), m = be32toh(v->msk[f - CF_SRC]);
		int len = __builtin_popcount(m), n = 0;

		if (!inv) {
			if (a & ~m)
				return 0; /* (addr & msk) != a for every packet */
			out[0].v = a;
			out[0].len = (uint8_t)len;
			return 1;
		}
		if (a & ~m) {
			out[0].v = 0; /* always different: the inverted test always matches */
			out[0].len = 0;
			return 1;
		}
		/* The complement of a/len: for each bit k < len, the first k bits of a, bit k
		 * flipped. */
		for (int k = 0; k < len; k++) {
			uint32_t keep = k ? ~0u << (32 - k) : 0;

			out[n].v = (a & keep) | ((~a) & (1u << (31 - k)));
			out[n].len = (uint8_t)(k + 1);
			n++;
		}
		return n;
	}
	if (!inv)
		return v->lo[f] <= v->hi[f] ? range_pfx(v->lo[f], v->hi[f], 16, out, 0) : 0;
	if (v->lo[f] > v->hi[f])
		return range_pfx(0, UINT16_MAX, 16, out, 0);
	{
		int n = 0;

		if (v->lo[f] > 0)
			n = range_pfx(0, v->lo[f] - 1u, 16, out, 0);
		if (n >= 0 && v->hi[f] < UINT16_MAX)
			n = range_pfx(v->hi[f] + 1u, UINT16_MAX, 16, out, n);
		return n;
	}
}

static void put_field(uint8_t *d, int f, uint32_t val_left)
{
	if (f == CF_SRC || f == CF_DST) {
		uint32_t n = htobe32(val_left);

		memcpy(d, &n, 4);
	} else {
		uint16_t n = htobe16((uint16_t)(val_left >> 16));

		memcpy(d, &n, 2);
		d[2] = d[3] = 0;
	}
}

/* Room for `cap` keys in all: the counting pass (run_count) knows how many a class makes, so a
 * vector is sized once and exactly. */
static int keyvec_reserve(struct keyvec *v, size_t cap)
{
	struct cl_key *p;

	if (cap <= v->cap)
		return 0;
	p = reallocarray(v->k, cap, sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->k = p;
	v->cap = cap;
	return 0;
}

static int keyvec_push(struct keyvec *v, const struct cl_key *k)
{
	if (v->n == v->cap) {
		int r = keyvec_reserve(v, v->cap ? v->cap * 2 : 1024);

		if (r)
			return r;
	}
	v->k[v->n++] = *k;
	return 0;
}

/* A key of one level before grouping: which run entry it comes from. */
struct cl_pk {
	uint8_t d[KEY_DATA];
	uint8_t len; /* of the prefix field */
	uint32_t ent;
};

static int pk_cmp(const void *a, const void *b)
{
	const struct cl_pk *x = a, *y = b;
	int c = memcmp(x->d, y->d, KEY_DATA);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->ent < y->ent ? -1 : x->ent > y->ent;
}

/* Whether prefix a (shorter or equal) contains prefix b. */
static bool pk_contains(const struct cl_pk *a, const struct cl_pk *b)
{
	uint32_t ya, yb, msk;

	if (a->len > b->len || memcmp(a->d, b->d, KEY_FIXED))
		return false;
	memcpy(&ya, a->d + KEY_FIXED, 4);
	memcpy(&yb, b->d + KEY_FIXED, 4);
	msk = a->len ? htobe32(~0u << (32 - a->len)) : 0;
	return (yb & msk) == ya;
}

/* Building the keys of one class (normal or "bad"). */
struct cl_build {
	struct bf_classify *cl;
	struct keyvec *v; /* where keys go; NULL: only count them (n_keys) */
	const struct cl_rent *ents;
	uint8_t lf[CF_N]; /* prefix fields, in lookup order */
	uint8_t n_lf;
	uint8_t mode[CF_N]; /* with the ports off for "bad" */
	bool bad;
	size_t n_keys; /* made so far */
	size_t max_keys;
};

static uint32_t ent_val(const struct cl_build *bc, const struct cl_rent *r)
{
	return r->idx << 2 | (bc->bad ? 2u : r->accept);
}

/* The exact values of field f of an entry (mode CM_EXACT). */
static int field_exact(const struct cl_val *v, int f, uint32_t *out)
{
	int n = 0;

	if (f == CF_SRC || f == CF_DST) {
		out[0] = v->addr[f - CF_SRC];
		return 1;
	}
	for (uint32_t p = v->lo[f]; p <= v->hi[f]; p++)
		out[n++] = htobe16((uint16_t)p);
	return n;
}

struct pkvec {
	struct cl_pk *k;
	size_t n, cap;
};

static int pkvec_push(struct pkvec *v, const struct cl_pk *k)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		struct cl_pk *p = realloc(v->k, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->k = p;
		v->cap = cap;
	}
	v->k[v->n++] = *k;
	return 0;
}

/* Level 0 keys of one entry: every combination of its exact values, times its prefixes of the
 * first prefix field. */
static int level0_keys(const struct cl_build *bc, uint32_t scope, uint32_t e, struct pkvec *pv)
{
	const struct cl_val *v = &bc->ents[e].v;
	uint32_t ex[CF_N][BF_CL_MAX_PORTS];
	int nex[CF_N];
	struct cl_pfx pf[BF_CL_MAX_PFX];
	int npf = 1;
	struct cl_pk k;
	int r;

	for (int f = 0; f < CF_N; f++) {
		nex[f] = 1;
		ex[f][0] = 0;
		if (bc->mode[f] == CM_EXACT)
			nex[f] = field_exact(v, f, ex[f]);
		if (!nex[f])
			return 0;
	}
	pf[0].v = 0;
	pf[0].len = 0;
	if (bc->n_lf) {
		npf = field_pfx(v, bc->lf[0], pf);
		if (npf <= 0)
			return npf;
	}
	memset(&k, 0, sizeof(k));
	memcpy(k.d, &scope, 4);
	k.ent = e;
	for (int a = 0; a < nex[CF_SPORT]; a++)
		for (int b = 0; b < nex[CF_DPORT]; b++)
			for (int p = 0; p < npf; p++) {
				uint16_t sp = (uint16_t)ex[CF_SPORT][a],
					 dp = (uint16_t)ex[CF_DPORT][b];

				memcpy(k.d + 4, &sp, 2);
				memcpy(k.d + 6, &dp, 2);
				memcpy(k.d + 8, &ex[CF_SRC][0], 4);
				memcpy(k.d + 12, &ex[CF_DST][0], 4);
				if (bc->n_lf)
					put_field(k.d + KEY_FIXED, bc->lf[0], pf[p].v);
				k.len = pf[p].len;
				r = pkvec_push(pv, &k);
				if (r)
					return r;
			}
	return 0;
}

static int level_keys(const struct cl_build *bc, uint32_t scope, unsigned int lvl, uint32_t e,
		      struct pkvec *pv)
{
	struct cl_pfx pf[BF_CL_MAX_PFX];
	struct cl_pk k;
	int n, r;

	if (!lvl)
		return level0_keys(bc, scope, e, pv);
	n = field_pfx(&bc->ents[e].v, bc->lf[lvl], pf);
	if (n < 0)
		return n;
	memset(&k, 0, sizeof(k));
	memcpy(k.d, &scope, 4);
	k.ent = e;
	for (int p = 0; p < n; p++) {
		put_field(k.d + KEY_FIXED, bc->lf[lvl], pf[p].v);
		k.len = pf[p].len;
		r = pkvec_push(pv, &k);
		if (r)
			return r;
	}
	return 0;
}

/* An open ancestor while a level's sorted keys are walked: its key and, below the last level,
 * the entries of its node (its own and its ancestors'), else the minimum value. */
struct cl_frame {
	const struct cl_pk *k;
	uint32_t *ents;
	size_t n;
	uint32_t min;
};

static int build_level(struct cl_build *bc, uint32_t scope, unsigned int lvl, const uint32_t *ents,
		       size_t n_ents);

static int emit_group(struct cl_build *bc, unsigned int lvl, const struct cl_pk *g, size_t n_g,
		      struct cl_frame *top, struct cl_frame *fr)
{
	bool last = lvl + 1 >= bc->n_lf;
	struct cl_key key;
	int r;

	memset(fr, 0, sizeof(*fr));
	fr->k = g;
	memcpy(key.d, g->d, KEY_DATA);
	key.plen = KEY_FIXED_BITS + g->len;
	if (last) {
		fr->min = top ? top->min : UINT32_MAX;
		for (size_t j = 0; j < n_g; j++) {
			uint32_t val = ent_val(bc, &bc->ents[g[j].ent]);

			fr->min = val < fr->min ? val : fr->min;
		}
		key.val = fr->min;
	} else {
		uint32_t node = BF_CL_NODE_BIT | bc->cl->next_node++;
		uint32_t scope = htobe32(node);

		if (bc->cl->next_node >= BF_CL_NODE_BIT)
			return -E2BIG;
		fr->n = n_g + (top ? top->n : 0);
		fr->ents = malloc(sizeof(*fr->ents) * fr->n);
		if (!fr->ents)
			return -ENOMEM;
		for (size_t j = 0; j < n_g; j++)
			fr->ents[j] = g[j].ent;
		if (top && top->n)
			memcpy(fr->ents + n_g, top->ents, sizeof(*fr->ents) * top->n);
		memcpy(&key.val, &scope, 4);
		r = build_level(bc, scope, lvl + 1, fr->ents, fr->n);
		if (r)
			return r;
	}
	if (bc->n_keys >= bc->max_keys)
		return -E2BIG;
	bc->n_keys++;
	return bc->v ? keyvec_push(bc->v, &key) : 0;
}

static int build_level(struct cl_build *bc, uint32_t scope, unsigned int lvl, const uint32_t *ents,
		       size_t n_ents)
{
	struct pkvec pv = {0};
	_cleanup_free_ struct cl_frame *st = NULL;
	size_t sp = 0, i = 0;
	int r = 0;

	for (size_t j = 0; j < n_ents && !r; j++)
		r = level_keys(bc, scope, lvl, ents[j], &pv);
	if (r || !pv.n)
		goto out;
	if (pv.n > bc->max_keys) {
		r = -E2BIG;
		goto out;
	}
	qsort(pv.k, pv.n, sizeof(*pv.k), pk_cmp);
	st = calloc(pv.n, sizeof(*st));
	if (!st) {
		r = -ENOMEM;
		goto out;
	}
	while (i < pv.n && !r) {
		size_t j = i + 1;

		while (j < pv.n && !memcmp(pv.k[j].d, pv.k[i].d, KEY_DATA) &&
		       pv.k[j].len == pv.k[i].len)
			j++;
		while (sp && !pk_contains(st[sp - 1].k, &pv.k[i]))
			free(st[--sp].ents);
		r = emit_group(bc, lvl, &pv.k[i], j - i, sp ? &st[sp - 1] : NULL, &st[sp]);
		sp++;
		i = j;
	}
	while (sp)
		free(st[--sp].ents);
out:
	free(pv.k);
	return r;
}

/* The prefix fields of a class, in lookup order, and its modes (ports off for "bad"). */
static void class_fields(const struct cl_sig *s, bool bad, uint8_t mode[CF_N], uint8_t *lf,
			 uint8_t *n_lf)
{
	*n_lf = 0;
	for (int f = 0; f < CF_N; f++)
		mode[f] = bad && (f == CF_SPORT || f == CF_DPORT) ? CM_NONE : s->mode[f];
	for (int k = 0; k < CF_N; k++)
		if (mode[lpm_order[k]] == CM_PREFIX)
			lf[(*n_lf)++] = lpm_order[k];
}

/* Whether a class looks anything up (else its first entry stands for all of them). */
static bool class_keyed(const struct cl_sig *s)
{
	for (int f = 0; f < CF_N; f++)
		if (s->mode[f] != CM_NONE)
			return true;
	return false;
}

/* Whether class c of a run has a trie of its own: it has keys (more entries than are tested
 * inline, a keyed field) and a prefix field (else its keys are in the hash). */
static bool class_has_trie(const struct cl_run *run, uint32_t c)
{
	return run->cls_size[c] > BF_CL_INLINE_MAX && !run->cls_exact[c] &&
	       class_keyed(&run->classes[c]);
}

/* The key layout of a class's trie: short when no field of it is exact (its keys then hold
 * only the scope and the prefix field). */
static int class_layout(const struct cl_sig *s)
{
	for (int f = 0; f < CF_N; f++)
		if (s->mode[f] == CM_EXACT)
			return CL_LONG;
	return CL_SHORT;
}

/* Which classes are exact (no prefix field: one hash lookup); the number of tries the run needs. */
static uint32_t class_kinds(struct cl_run *run)
{
	uint8_t mode[CF_N], lf[CF_N], n_lf;
	uint32_t n = 0;

	for (uint32_t c = 0; c < run->n_classes; c++) {
		const struct cl_sig *s = &run->classes[c];

		class_fields(s, false, mode, lf, &n_lf);
		run->cls_exact[c] = run->cls_size[c] > BF_CL_INLINE_MAX && !n_lf && class_keyed(s);
		n += class_has_trie(run, c);
	}
	return n;
}

/*
 * The keys of one run: per class, and per class with a transport match, its "bad" keys. A trie per
 * class: a lookup walks only the nodes of its own class's keys, not those of every class of the
 * generation (on 10k rules about half the depth); a class without prefix fields needs no longest
 * match: its keys go in the generation's hash, whose scope also names the run (run_id). A class
 * whose trie the last table had (the same keys) takes it from the cache (run->cls_fd).
 */
static int cache_get(int family, const uint64_t h[2], size_t *n_keys, int *dir_fd);
static bool cache_has(int family, const uint64_t h[2]);
static size_t xcache_get(int family, const uint64_t h[2], size_t *n_keys);

/* Whether class c of a run makes keys here: exact (the hash) or a trie, not from the caches. */
static bool class_builds(const struct cl_run *run, uint32_t c)
{
	return (run->cls_exact[c] && run->cls_xold[c] == SIZE_MAX) ||
	       (class_has_trie(run, c) && run->cls_fd[c] < 0);
}

/* The keys of class c of a run into bc (bc->v, or only counted); sel: scratch for n indices. */
static int class_keys(struct cl_build *bc, uint32_t run_id, const struct cl_run *run, uint32_t c,
		      size_t n, uint32_t *sel)
{
	const struct cl_sig *s = &run->classes[c];
	size_t ns = 0;
	int r;

	bc->cl->next_node = 0; /* nodes are numbered within the class's trie */
	for (size_t j = 0; j < n; j++)
		if (bc->ents[j].cls == c)
			sel[ns++] = (uint32_t)j;
	for (int bad = 0; bad <= (s->l4 ? 1 : 0); bad++) {
		uint32_t tag = c | (bad ? BF_CL_TAG_BAD : 0);
		uint32_t scope = htobe32(run->cls_exact[c] ? run_id << 8 | tag : tag);

		bc->bad = bad;
		class_fields(s, bad, bc->mode, bc->lf, &bc->n_lf);
		r = build_level(bc, scope, 0, sel, ns);
		if (r)
			return r;
	}
	return 0;
}

/*
 * First pass over a run: take the tries the cache has, and count the keys of every other class
 * (cls_nkeys) without keeping them, -E2BIG as soon as the run is over its bound. Set pruning can
 * make a run's keys explode (hundreds of thousands for 25k entries, tens of MB of keys): finding
 * that out keeps no key, and the second pass (run_build) sizes its vectors exactly.
 */
static int run_count(struct bf_classify *cl, uint32_t run_id, struct cl_run *run,
		     const struct cl_rent *ents, size_t n, uint32_t *sel)
{
	struct cl_build bc = {.cl = cl, .ents = ents};
	int r;

	bc.max_keys = n * BF_CL_KEYS_PER_ENTRY + BF_CL_KEYS_SLACK;
	for (uint32_t c = 0; c < run->n_classes; c++) {
		int fd;

		if (run->cls_exact[c]) {
			/* Keys the last table made for the same class (its run id aside). */
			run->cls_xold[c] =
				xcache_get(cl->family, run->cls_hash[c], &run->cls_nkeys[c]);
			if (run->cls_xold[c] == SIZE_MAX)
				continue;
			run->n_xreused++;
			if (bc.n_keys + run->cls_nkeys[c] >= bc.max_keys)
				return -E2BIG;
			bc.max_keys -= run->cls_nkeys[c];
			continue;
		}
		if (!class_has_trie(run, c))
			continue;
		/* A trie the last table had (the same class, relative to its run): its keys
		 * still count against the run's bound. */
		fd = cache_get(cl->family, run->cls_hash[c], &run->cls_nkeys[c], &run->cls_dir[c]);
		if (fd < 0)
			continue;
		run->cls_fd[c] = fd;
		if (run->cls_dir[c] >= 0 && cl->n_dirs + run->n_dirs >= BF_CL_MAX_DIRS) {
			close(run->cls_dir[c]);
			run->cls_dir[c] = -1;
		}
		run->n_dirs += run->cls_dir[c] >= 0;
		run->n_reused++;
		if (bc.n_keys + run->cls_nkeys[c] >= bc.max_keys)
			return -E2BIG;
		bc.max_keys -= run->cls_nkeys[c];
	}
	for (uint32_t c = 0; c < run->n_classes; c++) {
		size_t before = bc.n_keys;

		if (!class_builds(run, c))
			continue; /* tested entry by entry, its first entry stands for all, or
				     cached */
		r = class_keys(&bc, run_id, run, c, n, sel);
		if (r)
			return r;
		run->cls_nkeys[c] = bc.n_keys - before;
	}
	return 0;
}

/* Keys go in by batches: one syscall per BF_CL_BATCH keys instead of one per key. Kernels
 * without batch updates for a map type take them one by one. */
#define BF_CL_BATCH 4096

/* Put n keys into map fd: LPM keys (prefix length, then the data) for a trie, else the first
 * KEY_FIXED bytes of the data (the hash). */
static int fill_keys(int fd, const struct cl_key *k, size_t n, bool lpm, int layout,
		     const struct bf_log *log)
{
	/* Batches take no BPF_NOEXIST (generic_map_update_batch allows BPF_F_LOCK only); the
	 * keys are distinct by construction. */
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = 0);
	size_t ksz = !lpm		  ? KEY_FIXED
		     : layout == CL_SHORT ? sizeof(struct cl_lpm_key_short)
					  : sizeof(struct cl_lpm_key);
	size_t chunk = n < BF_CL_BATCH ? n : BF_CL_BATCH;
	_cleanup_free_ uint8_t *keys = calloc(chunk ? chunk : 1, ksz);
	_cleanup_free_ uint32_t *vals = calloc(chunk ? chunk : 1, sizeof(*vals));
	bool batch = true;

	if (!keys || !vals)
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		uint32_t m = (uint32_t)(n - i < chunk ? n - i : chunk);

		for (uint32_t j = 0; j < m; j++) {
			uint8_t *kp = keys + j * ksz;

			if (lpm && layout == CL_SHORT) {
				struct cl_lpm_key_short lk = {
					.prefixlen = k[i + j].plen - KEY_FIXED_BITS +
						     KEY_SHORT_FIXED_BITS,
				};

				memcpy(lk.d, k[i + j].d, 4);
				memcpy(lk.d + 4, k[i + j].d + KEY_FIXED, 4);
				memcpy(kp, &lk, sizeof(lk));
			} else if (lpm) {
				struct cl_lpm_key lk = {.prefixlen = k[i + j].plen};

				memcpy(lk.d, k[i + j].d, KEY_DATA);
				memcpy(kp, &lk, sizeof(lk));
			} else {
				memcpy(kp, k[i + j].d, KEY_FIXED);
			}
			vals[j] = k[i + j].val;
		}
		if (batch) {
			uint32_t done = m;

			if (!bpf_map_update_batch(fd, keys, vals, &done, &bopts)) {
				i += m;
				continue;
			}
			/* 524: the kernel's ENOTSUPP, no batch operation for this map type */
			if (errno != EINVAL && errno != 524 && errno != EOPNOTSUPP) {
				int err = -errno;

				bf_logf(log, BF_LOG_ERR, "classify: cannot insert key %zu/%zu: %s",
					i + done, n, strerror(-err));
				return err;
			}
			/* The keys it took are in; the rest one by one. */
			batch = false;
			i += done < m ? done : 0;
			continue;
		}
		for (uint32_t j = 0; j < m; j++) {
			if (bpf_map_update_elem(fd, keys + j * ksz, &vals[j], BPF_NOEXIST)) {
				int err = -errno;

				bf_logf(log, BF_LOG_ERR, "classify: cannot insert key %zu/%zu: %s",
					i + j, n, strerror(-err));
				return err;
			}
		}
		i += m;
	}
	return 0;
}

/* One class's trie: an LPM trie of `n` keys; the fd, or -errno. */
static int make_trie(size_t n, int layout, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "bf_cls",
			    layout == CL_SHORT ? sizeof(struct cl_lpm_key_short)
					       : sizeof(struct cl_lpm_key),
			    sizeof(uint32_t), (uint32_t)(n ? n : 1), &opts);
	if (fd < 0) {
		fd = -errno;
		bf_logf(log, BF_LOG_ERR, "classify: cannot create a trie (%zu keys): %s", n,
			strerror(-fd));
	}
	return fd;
}

/* An empty directory; the fd, or -errno. */
static int make_dir_map(const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_clsd", sizeof(uint32_t), sizeof(uint32_t),
			    BF_CL_DIR_SIZE, &opts);
	if (fd < 0) {
		fd = -errno;
		bf_logf(log, BF_LOG_ERR, "classify: cannot create a directory: %s", strerror(-fd));
	}
	return fd;
}

static int dir_key_cmp(const void *a, const void *b)
{
	const struct cl_key *x = *(const struct cl_key *const *)a,
			    *y = *(const struct cl_key *const *)b;

	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/*
 * The directory of class c from its keys (all levels; its level-0 keys for a good packet are
 * those of scope c): *out an fd, or -1 when the class has too few of them. Keys are applied
 * from the shortest prefix to the longest, so each /16 holds the longest one covering it, as
 * the trie's longest match would; a /16 with a longer key inside is left to the trie.
 */
static int make_dir(uint32_t c, const struct cl_key *k, size_t n, int *out,
		    const struct bf_log *log)
{
	uint32_t scope = htobe32(c);
	_cleanup_free_ const struct cl_key **l0 = malloc(sizeof(*l0) * (n ? n : 1));
	size_t n0 = 0;
	uint32_t *dir;
	int fd;

	*out = -1;
	if (!l0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(k[i].d, &scope, 4))
			l0[n0++] = &k[i];
	if (n0 < BF_CL_DIR_MIN)
		return 0;
	qsort(l0, n0, sizeof(*l0), dir_key_cmp);
	fd = make_dir_map(log);
	if (fd < 0)
		return fd;
	/* an array's elements are 8 bytes apart (round_up(value_size, 8), kernel/bpf/arraymap.c) */
	dir = mmap(NULL, BF_CL_DIR_SIZE * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (dir == MAP_FAILED) {
		int err = -errno;

		bf_logf(log, BF_LOG_ERR, "classify: cannot map a directory: %s", strerror(-err));
		close(fd);
		return err;
	}
	memset(dir, 0xff, BF_CL_DIR_SIZE * 8); /* DIR_NONE */
	for (size_t i = 0; i < n0; i++) {
		uint32_t len = l0[i]->plen - KEY_FIXED_BITS, v, lo, cnt;

		memcpy(&v, l0[i]->d + KEY_FIXED, 4);
		v = be32toh(v);
		lo = v >> 16;
		if (len > 16) {
			dir[2 * lo] = DIR_WALK;
			continue;
		}
		cnt = 1u << (16 - len);
		lo &= ~(cnt - 1);
		for (uint32_t j = 0; j < cnt; j++)
			dir[2 * (lo + j)] = l0[i]->val;
	}
	munmap(dir, BF_CL_DIR_SIZE * 8);
	*out = fd;
	return 0;
}

/* Exact class c (its keys at cl->xk from `first` on) goes in the ports array if its only keyed
 * field is one port and it has enough keys for a good packet. */
static void port_class(struct bf_classify *cl, uint32_t run_id, struct cl_run *run, uint32_t c,
		       size_t first)
{
	const struct cl_sig *s = &run->classes[c];
	uint32_t scope = htobe32(run_id << 8 | c), k = cl->n_ports + run->n_ports;
	size_t n = 0;

	if (s->mode[CF_SRC] != CM_NONE || s->mode[CF_DST] != CM_NONE ||
	    (s->mode[CF_SPORT] == CM_EXACT) == (s->mode[CF_DPORT] == CM_EXACT) ||
	    k >= BF_CL_MAX_PORT_CLASSES)
		return;
	for (size_t i = first; i < cl->xk.n; i++)
		n += !memcmp(cl->xk.k[i].d, &scope, 4);
	if (n < BF_CL_PORTS_MIN)
		return;
	cl->port_scope[k] = scope;
	cl->port_field[k] = s->mode[CF_SPORT] == CM_EXACT ? CF_SPORT : CF_DPORT;
	run->cls_port[c] = (int)k;
	run->n_ports++;
}

static void xcache_copy(struct bf_classify *cl, uint32_t run_id, uint32_t c, size_t x);

/*
 * Second pass over a run that fits (run_count): per class, its keys into a vector of exactly its
 * size, then into its trie, and the vector is reused by the next class: at most one class's keys
 * are held at a time. The exact classes' keys go to cl->xk (the generation's hash, filled once
 * every run is built).
 */
static int run_build(struct bf_classify *cl, uint32_t run_id, struct cl_run *run,
		     const struct cl_rent *ents, size_t n, uint32_t *sel, const struct bf_log *log)
{
	struct keyvec v = {0};
	size_t max = 0, n_exact = 0, before;
	int r = 0;

	for (uint32_t c = 0; c < run->n_classes; c++) {
		if (run->cls_exact[c])
			n_exact += run->cls_nkeys[c];
		else if (class_builds(run, c))
			max = run->cls_nkeys[c] > max ? run->cls_nkeys[c] : max;
	}
	r = keyvec_reserve(&cl->xk, cl->xk.n + n_exact);
	if (!r)
		r = keyvec_reserve(&v, max);
	for (uint32_t c = 0; !r && c < run->n_classes; c++) {
		struct cl_build bc = {.cl = cl, .ents = ents, .max_keys = SIZE_MAX};
		bool exact = run->cls_exact[c];
		int fd;

		before = cl->xk.n;
		if (exact)
			run->cls_xnew[c] = before;
		if (exact && run->cls_xold[c] != SIZE_MAX) {
			xcache_copy(cl, run_id, c, run->cls_xold[c]);
			port_class(cl, run_id, run, c, before);
			continue;
		}
		if (!class_builds(run, c))
			continue;
		bc.v = exact ? &cl->xk : &v;
		v.n = 0;
		r = class_keys(&bc, run_id, run, c, n, sel);
		if (r)
			break;
		if (bc.n_keys != run->cls_nkeys[c]) {
			bf_logf(log, BF_LOG_ERR, "classify: class %u made %zu keys, counted %zu", c,
				bc.n_keys, run->cls_nkeys[c]);
			r = -EINVAL;
			break;
		}
		if (exact) {
			port_class(cl, run_id, run, c, before);
			continue;
		}
		fd = make_trie(v.n, class_layout(&run->classes[c]), log);
		if (fd < 0) {
			r = fd;
			break;
		}
		run->cls_fd[c] = fd; /* closed by run_free on failure */
		r = fill_keys(fd, v.k, v.n, true, class_layout(&run->classes[c]), log);
		if (!r && class_layout(&run->classes[c]) == CL_SHORT &&
		    cl->n_dirs + run->n_dirs < BF_CL_MAX_DIRS) {
			r = make_dir(c, v.k, v.n, &run->cls_dir[c], log);
			run->n_dirs += run->cls_dir[c] >= 0;
		}
	}
	free(v.k);
	return r;
}

/* The ports array: block k (65,536 entries) holds, per port, the value of class k's key for
 * that port, DIR_NONE where it has none. Filled through mmap, from the exact keys. */
static int fill_ports(struct bf_classify *cl, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t sz = (size_t)cl->n_ports * BF_CL_DIR_SIZE * 8;
	uint32_t *a;

	if (!cl->n_ports)
		return 0;
	cl->ports_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_clsp", sizeof(uint32_t),
				      sizeof(uint32_t), cl->n_ports * BF_CL_DIR_SIZE, &opts);
	if (cl->ports_fd < 0) {
		int err = -errno;

		bf_logf(log, BF_LOG_ERR, "classify: cannot create the ports array: %s",
			strerror(-err));
		return err;
	}
	a = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, cl->ports_fd, 0);
	if (a == MAP_FAILED) {
		int err = -errno;

		bf_logf(log, BF_LOG_ERR, "classify: cannot map the ports array: %s",
			strerror(-err));
		return err;
	}
	memset(a, 0xff, sz); /* DIR_NONE */
	for (size_t i = 0; i < cl->xk.n; i++) {
		const struct cl_key *key = &cl->xk.k[i];

		for (uint32_t k = 0; k < cl->n_ports; k++) {
			uint16_t port;

			if (memcmp(key->d, &cl->port_scope[k], 4))
				continue;
			memcpy(&port, key->d + (cl->port_field[k] == CF_SPORT ? 4 : 6), 2);
			/* elements are 8 bytes apart */
			a[2 * ((size_t)k * BF_CL_DIR_SIZE + be16toh(port))] = key->val;
			break;
		}
	}
	munmap(a, sz);
	return 0;
}

int bf_classify_ports_fd(const struct bf_classify *cl)
{
	return cl->ports_fd;
}

/* The hash of the exact classes' keys, if any. */
/* The filter's bit of a hash key (its KEY_FIXED bytes), as emit_bits() computes it. */
static uint32_t bits_hash(const uint8_t *d)
{
	uint32_t w[4];

	memcpy(w, d, sizeof(w));
	return (uint32_t)((w[0] ^ w[1] ^ w[2] ^ w[3]) * BF_CL_BITS_MUL) >> (32 - BF_CL_BITS_LOG);
}

/* cl->bits_fd: the filter of the hash's keys. Without it (an error) the hash is looked up
 * for every packet, as before: nothing is lost but time. */
static void make_bits(struct bf_classify *cl, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	size_t sz = BF_CL_BITS_WORDS * sizeof(uint64_t);
	uint64_t *w;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_clsb", sizeof(uint32_t), sizeof(uint64_t),
			    BF_CL_BITS_WORDS, &opts);
	if (fd < 0) {
		bf_logf(log, BF_LOG_WARN, "classify: no filter for the exact classes: %s",
			strerror(errno));
		return;
	}
	w = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (w == MAP_FAILED) {
		bf_logf(log, BF_LOG_WARN, "classify: no filter for the exact classes: %s",
			strerror(errno));
		close(fd);
		return;
	}
	for (size_t i = 0; i < cl->xk.n; i++) {
		uint32_t h = bits_hash(cl->xk.k[i].d);

		w[h >> 6] |= 1ull << (h & 63);
	}
	munmap(w, sz);
	cl->bits_fd = fd;
}

static int fill_exact(struct bf_classify *cl, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct keyvec *v = &cl->xk;
	int err;

	if (!v->n)
		return 0;
	cl->exact_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bf_clsx", KEY_FIXED, sizeof(uint32_t),
				      (uint32_t)v->n, &opts);
	if (cl->exact_fd < 0) {
		err = -errno;

		bf_logf(log, BF_LOG_ERR, "classify: cannot create the hash (%zu keys): %s", v->n,
			strerror(-err));
		return err;
	}
	make_bits(cl, log);
	/* The keys stay for the cache of exact classes (xcache_set). */
	return fill_keys(cl->exact_fd, v->k, v->n, false, CL_LONG, log);
}

/*
 * Slot t of the outer array of a layout: the trie of the class whose cls_trie is t, if its keys
 * have that layout (slots are numbered across both arrays; the other layout's stay empty). By
 * one batch if the kernel takes it: every update of a map of maps waits for an RCU grace period
 * (maybe_wait_bpf_programs in kernel/bpf/syscall.c), tens of ms on a busy machine, a batch once.
 */
/* What slot cls_trie[c] of the outer array of `layout` holds: the class's trie if its keys have
 * that layout, else -1. */
static int slot_fd(const struct cl_run *run, uint32_t c, int layout)
{
	return class_layout(&run->classes[c]) == layout ? run->cls_fd[c] : -1;
}

static int fill_outer(struct bf_classify *cl, int layout, const struct bf_log *log)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = 0);
	_cleanup_free_ uint32_t *keys = calloc(cl->n_tries, sizeof(*keys));
	_cleanup_free_ uint32_t *vals = calloc(cl->n_tries, sizeof(*vals));
	int fd = cl->map_fd[layout];
	uint32_t n = 0, done;

	if (!keys || !vals)
		return -ENOMEM;
	for (uint32_t r = 0; r < cl->n_runs; r++) {
		const struct cl_run *run = &cl->runs[r];

		for (uint32_t c = 0; c < run->n_classes && n < cl->n_tries; c++) {
			if (slot_fd(run, c, layout) < 0)
				continue;
			keys[n] = run->cls_trie[c];
			vals[n++] = (uint32_t)slot_fd(run, c, layout);
		}
	}
	done = n;
	if (!bpf_map_update_batch(fd, keys, vals, &done, &bopts))
		return 0;
	/* 524: the kernel's ENOTSUPP, no batch operation for this map type */
	if (errno != EINVAL && errno != 524 && errno != EOPNOTSUPP)
		done = 0;
	for (uint32_t k = done < n ? done : 0; k < n; k++) {
		if (bpf_map_update_elem(fd, &keys[k], &vals[k], BPF_ANY)) {
			int err = -errno;

			bf_logf(log, BF_LOG_ERR, "classify: cannot set trie %u/%u: %s", keys[k],
				cl->n_tries, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The last table's outer arrays, immutable once filled like their tries: a table whose slots
 * hold the same tries (an append or delete that leaves every trie as it was) shares them, and
 * skips the RCU grace period of filling one. Per family and layout. */
static struct {
	int fd;
	uint32_t n;
	uint64_t (*h)[2]; /* slot -> its trie's class hash */
} cl_outer[2][CL_N_LAYOUTS] = {{{.fd = -1}, {.fd = -1}}, {{.fd = -1}, {.fd = -1}}};

static size_t cache_slot(int family);

/* Slot t -> the class hash of its trie if it has that layout, else zero; NULL on ENOMEM. */
static uint64_t (*slot_hashes(const struct bf_classify *cl, int layout))[2]
{
	uint64_t(*h)[2] = calloc(cl->n_tries ? cl->n_tries : 1, sizeof(*h));

	for (uint32_t r = 0; h && r < cl->n_runs; r++)
		for (uint32_t c = 0; c < cl->runs[r].n_classes; c++)
			if (slot_fd(&cl->runs[r], c, layout) >= 0 &&
			    cl->runs[r].cls_trie[c] < cl->n_tries)
				memcpy(h[cl->runs[r].cls_trie[c]], cl->runs[r].cls_hash[c],
				       sizeof(*h));
	return h;
}

/* A new fd of the cached outer array if its slots hold the same tries as cl's, else -1. */
static int outer_get(const struct bf_classify *cl, int layout)
{
	size_t f = cache_slot(cl->family);
	_cleanup_free_ uint64_t(*h)[2] = NULL;

	if (cl_outer[f][layout].fd < 0 || cl_outer[f][layout].n != cl->n_tries)
		return -1;
	h = slot_hashes(cl, layout);
	if (!h || memcmp(h, cl_outer[f][layout].h, sizeof(*h) * cl->n_tries))
		return -1;
	return fcntl(cl_outer[f][layout].fd, F_DUPFD_CLOEXEC, 3);
}

static void outer_free(size_t f)
{
	for (int l = 0; l < CL_N_LAYOUTS; l++) {
		if (cl_outer[f][l].fd >= 0)
			close(cl_outer[f][l].fd);
		free(cl_outer[f][l].h);
		cl_outer[f][l].fd = -1;
		cl_outer[f][l].h = NULL;
		cl_outer[f][l].n = 0;
	}
}

/* The cache's outer arrays become cl's. */
static void outer_set(const struct bf_classify *cl)
{
	size_t f = cache_slot(cl->family);

	outer_free(f);
	for (int l = 0; l < CL_N_LAYOUTS; l++) {
		/* Only a filled array can be shared with the next table (outer_get). */
		if (cl->map_fd[l] < 0 || !cl->outer_filled[l])
			continue;
		cl_outer[f][l].h = slot_hashes(cl, l);
		cl_outer[f][l].fd =
			cl_outer[f][l].h ? fcntl(cl->map_fd[l], F_DUPFD_CLOEXEC, 3) : -1;
		cl_outer[f][l].n = cl_outer[f][l].fd >= 0 ? cl->n_tries : 0;
	}
}

static bool xcache_share(struct bf_classify *cl);
static void xk_hash(const struct bf_classify *cl, uint64_t out[2]);

/* The generation's outer arrays of tries (one per layout that has a trie; filled only if a
 * program needs one, bf_classify_finish) and its hash of exact keys. */
static int fill_map(struct bf_classify *cl, const struct bf_log *log)
{
	bool used[CL_N_LAYOUTS] = {false};
	int err;

	for (uint32_t r = 0; r < cl->n_runs; r++)
		for (uint32_t c = 0; c < cl->runs[r].n_classes; c++)
			for (int l = 0; l < CL_N_LAYOUTS; l++)
				used[l] |= slot_fd(&cl->runs[r], c, l) >= 0;
	for (int l = 0; l < CL_N_LAYOUTS; l++) {
		LIBBPF_OPTS(bpf_map_create_opts, opts);
		int fd;

		if (!cl->n_tries || !used[l])
			continue;
		if (cl_enabled)
			cl->map_fd[l] = outer_get(cl, l);
		if (cl->map_fd[l] >= 0) {
			cl->outer_reused[l] = cl->outer_filled[l] = true;
			bf_logf(log, BF_LOG_DEBUG,
				"classify: the last table's array of %u tries reused (layout %d)",
				cl->n_tries, l);
			continue;
		}
		fd = make_trie(1, l, log);
		if (fd < 0)
			return fd;
		opts.inner_map_fd = fd;
		cl->map_fd[l] =
			bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "bf_cls", sizeof(uint32_t),
				       sizeof(uint32_t), cl->n_tries, &opts);
		close(fd);
		if (cl->map_fd[l] < 0) {
			err = -errno;
			bf_logf(log, BF_LOG_ERR,
				"classify: cannot create the array of %u tries: %s", cl->n_tries,
				strerror(-err));
			return err;
		}
	}
	if (cl_enabled && xcache_share(cl)) {
		bf_logf(log, BF_LOG_DEBUG,
			"classify: the last table's hash of %zu exact keys and ports array reused",
			cl->xk.n);
		return 0;
	}
	err = fill_ports(cl, log);
	return err ? err : fill_exact(cl, log);
}

int bf_classify_finish(struct bf_classify *cl, const struct bf_log *log)
{
	for (int l = 0; l < CL_N_LAYOUTS; l++) {
		int err;

		if (!cl->outer_needed[l] || cl->outer_filled[l])
			continue;
		err = fill_outer(cl, l, log);
		if (err)
			return err;
		cl->outer_filled[l] = true;
		bf_logf(log, BF_LOG_DEBUG,
			"classify: array of tries %d filled (a program has more tries than maps it "
			"may load)",
			l);
	}
	if (cl_enabled)
		outer_set(cl);
	return 0;
}

/* Two independent 64-bit hashes over the same 64-bit words, each word first spread by a
 * bijective finalizer (murmur3's fmix64) with a lane's own constant: 128 bits, so that two
 * different runs never share a trie in practice. Word by word: hashing every entry of every
 * run byte by byte was a fifth of the classifier's time on an append. */
struct cl_hash {
	uint64_t a, b;
};

static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void hash_word(struct cl_hash *h, uint64_t w)
{
	h->a = (h->a ^ fmix64(w ^ 0x243f6a8885a308d3ull)) * 0x100000001b3ull;
	h->a = h->a << 29 | h->a >> 35;
	h->b = (h->b + fmix64(w + 0x9e3779b97f4a7c15ull)) * 0x9e3779b97f4a7c15ull;
	h->b ^= h->b >> 29;
}

/* n bytes, 8 at a time, the last word padded with zeros, then the length. */
static void hash_bytes(struct cl_hash *h, const void *p, size_t n)
{
	const uint8_t *d = p;
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, d + i, 8);
		hash_word(h, w);
	}
	w = 0;
	memcpy(&w, d + i, n - i);
	hash_word(h, w);
	hash_word(h, n);
}

static void hash_u32(struct cl_hash *h, uint32_t v)
{
	hash_word(h, v);
}

/* An entry's values, index and the small fields the callers add (class, accept), as both cache
 * keys below hash them, in four words. */
static void hash_rent(struct cl_hash *h, const struct cl_rent *e, uint8_t cls, uint8_t accept)
{
	hash_word(h, (uint64_t)e->v.addr[0] << 32 | e->v.addr[1]);
	hash_word(h, (uint64_t)e->v.msk[0] << 32 | e->v.msk[1]);
	hash_word(h, (uint64_t)e->v.lo[0] << 48 | (uint64_t)e->v.lo[1] << 32 |
			     (uint64_t)e->v.hi[0] << 16 | e->v.hi[1]);
	hash_word(h, (uint64_t)e->idx << 32 | (uint64_t)e->v.inv << 16 | (uint64_t)cls << 8 |
			     accept);
}

/* Everything class_keys() reads for the trie of class c, with entry indices relative to the run
 * (its nodes are numbered within the trie). */
/*
 * The cache of tries (see the top of the file): the runs of the last table compiled, per
 * family. Compilation runs on one thread (the daemon's request loop), so no lock.
 */
struct cl_cache_ent {
	uint64_t hash[2];
	int fd;	    /* a class's trie; -1: a run with too many keys */
	int dir_fd; /* its directory, or -1 */
	size_t n_keys;
};

static struct {
	struct cl_cache_ent *ents;
	size_t n;
} cl_cache[2];

static size_t cache_slot(int family)
{
	return family == NFPROTO_IPV6 ? 1 : 0;
}

/* A new fd of the cached trie for hash h (a class's), or -ENOENT; *dir_fd a new fd of its
 * directory, or -1. */
static int cache_get(int family, const uint64_t h[2], size_t *n_keys, int *dir_fd)
{
	size_t f = cache_slot(family);

	for (size_t k = 0; k < cl_cache[f].n; k++) {
		const struct cl_cache_ent *ce = &cl_cache[f].ents[k];
		int fd;

		if (ce->fd < 0 || ce->hash[0] != h[0] || ce->hash[1] != h[1])
			continue;
		fd = fcntl(ce->fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -ENOENT; /* not reused: only costs a rebuild */
		*n_keys = ce->n_keys;
		*dir_fd = ce->dir_fd >= 0 ? fcntl(ce->dir_fd, F_DUPFD_CLOEXEC, 3) : -1;
		return fd;
	}
	return -ENOENT;
}

/* Whether the cache has the trie of the class of hash h. */
static bool cache_has(int family, const uint64_t h[2])
{
	size_t f = cache_slot(family);

	for (size_t k = 0; k < cl_cache[f].n; k++) {
		const struct cl_cache_ent *ce = &cl_cache[f].ents[k];

		if (ce->fd >= 0 && ce->hash[0] == h[0] && ce->hash[1] == h[1])
			return true;
	}
	return false;
}

/* Whether hash h is a run known to need too many keys. */
static bool cache_is_big(int family, const uint64_t h[2])
{
	size_t f = cache_slot(family);

	for (size_t k = 0; k < cl_cache[f].n; k++) {
		const struct cl_cache_ent *ce = &cl_cache[f].ents[k];

		if (ce->fd < 0 && ce->hash[0] == h[0] && ce->hash[1] == h[1])
			return true;
	}
	return false;
}

static void cache_free(size_t f)
{
	for (size_t k = 0; k < cl_cache[f].n; k++) {
		if (cl_cache[f].ents[k].fd >= 0)
			close(cl_cache[f].ents[k].fd);
		if (cl_cache[f].ents[k].dir_fd >= 0)
			close(cl_cache[f].ents[k].dir_fd);
	}
	free(cl_cache[f].ents);
	cl_cache[f].ents = NULL;
	cl_cache[f].n = 0;
}

/* The cache becomes cl's tries and too-big runs (the previous tries stay alive while a program
 * or an outer array uses them). */
static void cache_set(const struct bf_classify *cl)
{
	size_t f = cache_slot(cl->family), n = 0;
	struct cl_cache_ent *ents = calloc(cl->n_tries + cl->n_big + 1, sizeof(*ents));

	cache_free(f); /* first: at most one table's tries in the cache at any time */
	for (uint32_t r = 0; ents && r < cl->n_runs; r++) {
		const struct cl_run *run = &cl->runs[r];

		for (uint32_t c = 0; c < run->n_classes && n < cl->n_tries; c++) {
			int fd;

			if (run->cls_fd[c] < 0)
				continue;
			fd = fcntl(run->cls_fd[c], F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				continue; /* not cached: only costs a rebuild */
			ents[n].hash[0] = run->cls_hash[c][0];
			ents[n].hash[1] = run->cls_hash[c][1];
			ents[n].n_keys = run->cls_nkeys[c];
			ents[n].dir_fd = run->cls_dir[c] >= 0
						 ? fcntl(run->cls_dir[c], F_DUPFD_CLOEXEC, 3)
						 : -1;
			ents[n++].fd = fd;
		}
	}
	for (size_t k = 0; ents && k < cl->n_big; k++) {
		ents[n].hash[0] = cl->big[k][0];
		ents[n].hash[1] = cl->big[k][1];
		ents[n].dir_fd = -1;
		ents[n++].fd = -1;
	}
	cl_cache[f].ents = ents;
	cl_cache[f].n = ents ? n : 0;
}

/*
 * The cache of exact classes: the last table's exact keys, compact, and per exact class the hash
 * of what makes its keys (as a trie's) and where they are. A class the next table has unchanged
 * copies its keys, with its new run id, instead of building them; a table whose exact keys and
 * port classes hash as the last table's shares its hash and ports array (immutable once filled,
 * like the tries), so an append that leaves every exact class as it was creates and fills
 * neither again. Per family.
 */
/* An exact key as kept: its bytes after the scope, and its value. The scope is (run id, tag):
 * the run id may change, the tag is the class, with BF_CL_TAG_BAD for the keys after its n_good
 * first ones; an exact key has no prefix field (prefix length KEY_FIXED_BITS, zeros after). */
struct cl_xkey {
	uint8_t d[KEY_FIXED - 4];
	uint32_t val;
};

struct cl_xent {
	uint64_t hash[2];
	size_t off, n, n_good;
};

static struct {
	struct cl_xkey *k;
	struct cl_xent *ents;
	size_t n;
	uint64_t share[2]; /* xk_hash() of the table */
	int exact_fd, ports_fd, bits_fd;
} cl_xcache[2] = {{.exact_fd = -1, .ports_fd = -1, .bits_fd = -1},
		  {.exact_fd = -1, .ports_fd = -1, .bits_fd = -1}};

/* The cache's entry of the exact class of hash h (*n_keys keys), or SIZE_MAX. */
static size_t xcache_get(int family, const uint64_t h[2], size_t *n_keys)
{
	size_t f = cache_slot(family);

	for (size_t k = 0; k < cl_xcache[f].n; k++) {
		const struct cl_xent *xe = &cl_xcache[f].ents[k];

		if (xe->hash[0] != h[0] || xe->hash[1] != h[1])
			continue;
		*n_keys = xe->n;
		return k;
	}
	return SIZE_MAX;
}

/* Append the keys of cache entry x to cl->xk (reserved by the caller), as class c of run run_id
 * (c is the class the entry was: its hash says so). */
static void xcache_copy(struct bf_classify *cl, uint32_t run_id, uint32_t c, size_t x)
{
	const struct cl_xent *xe = &cl_xcache[cache_slot(cl->family)].ents[x];
	const struct cl_xkey *src = cl_xcache[cache_slot(cl->family)].k + xe->off;

	for (size_t i = 0; i < xe->n; i++) {
		struct cl_key k = {.plen = KEY_FIXED_BITS, .val = src[i].val};
		uint32_t scope = htobe32(run_id << 8 | c | (i < xe->n_good ? 0 : BF_CL_TAG_BAD));

		memcpy(k.d, &scope, 4);
		memcpy(k.d + 4, src[i].d, sizeof(src[i].d));
		cl->xk.k[cl->xk.n++] = k;
	}
}

/* What the generation's hash and ports array hold: every exact key and the port classes. */
static void xk_hash(const struct bf_classify *cl, uint64_t out[2])
{
	struct cl_hash h = {.a = 0x452821e638d01377ull, .b = 0xbe5466cf34e90c6cull};

	for (size_t i = 0; i < cl->xk.n; i++) {
		hash_bytes(&h, cl->xk.k[i].d, KEY_DATA);
		hash_word(&h, (uint64_t)cl->xk.k[i].plen << 32 | cl->xk.k[i].val);
	}
	hash_word(&h, cl->xk.n);
	hash_bytes(&h, cl->port_scope, cl->n_ports * sizeof(cl->port_scope[0]));
	hash_bytes(&h, cl->port_field, cl->n_ports);
	out[0] = h.a;
	out[1] = h.b;
}

/* If cl's exact keys and port classes are the cached table's (their hash), its hash and ports
 * array become cl's (new fds) and true; else false. */
static bool xcache_share(struct bf_classify *cl)
{
	size_t f = cache_slot(cl->family);
	int xfd = -1, pfd = -1;

	xk_hash(cl, cl->xk_hash);
	if (!cl->xk.n || cl_xcache[f].exact_fd < 0 || (cl->n_ports && cl_xcache[f].ports_fd < 0) ||
	    (!cl->n_ports && cl_xcache[f].ports_fd >= 0) ||
	    memcmp(cl->xk_hash, cl_xcache[f].share, sizeof(cl->xk_hash)))
		return false;
	xfd = fcntl(cl_xcache[f].exact_fd, F_DUPFD_CLOEXEC, 3);
	if (xfd < 0)
		return false; /* not shared: only costs filling them */
	if (cl->n_ports) {
		pfd = fcntl(cl_xcache[f].ports_fd, F_DUPFD_CLOEXEC, 3);
		if (pfd < 0) {
			close(xfd);
			return false;
		}
	}
	cl->exact_fd = xfd;
	cl->ports_fd = pfd;
	if (cl_xcache[f].bits_fd >= 0)
		cl->bits_fd = fcntl(cl_xcache[f].bits_fd, F_DUPFD_CLOEXEC, 3); /* -1: no filter */
	return true;
}

static void xcache_free(size_t f)
{
	if (cl_xcache[f].exact_fd >= 0)
		close(cl_xcache[f].exact_fd);
	if (cl_xcache[f].ports_fd >= 0)
		close(cl_xcache[f].ports_fd);
	if (cl_xcache[f].bits_fd >= 0)
		close(cl_xcache[f].bits_fd);
	free(cl_xcache[f].k);
	free(cl_xcache[f].ents);
	memset(&cl_xcache[f], 0, sizeof(cl_xcache[f]));
	cl_xcache[f].exact_fd = cl_xcache[f].ports_fd = cl_xcache[f].bits_fd = -1;
}

/* The keys of exact class c at cl->xk[off, off + n): their good keys first, then the bad ones,
 * no prefix field, as xcache_copy() makes them again; *n_good. */
static bool xkeys_compact(const struct bf_classify *cl, uint32_t c, size_t off, size_t n,
			  size_t *n_good)
{
	static const uint8_t zero[KEY_DATA - KEY_FIXED];
	size_t g = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cl_key *k = &cl->xk.k[off + i];
		uint32_t tag;

		memcpy(&tag, k->d, 4);
		tag = be32toh(tag) & 0xff;
		if (k->plen != KEY_FIXED_BITS || memcmp(k->d + KEY_FIXED, zero, sizeof(zero)))
			return false;
		if (tag == c && g == i)
			g++;
		else if (tag != (c | BF_CL_TAG_BAD))
			return false;
	}
	*n_good = g;
	return true;
}

/* The cache of exact classes becomes cl's (its keys kept compact); cl's keys are freed, the
 * generation's hash holds them now. */
static void xcache_set(struct bf_classify *cl)
{
	size_t f = cache_slot(cl->family), n = 0, nk = 0;
	struct cl_xent *ents = NULL;
	struct cl_xkey *keys = NULL;

	xcache_free(f);
	for (uint32_t r = 0; r < cl->n_runs; r++)
		for (uint32_t c = 0; c < cl->runs[r].n_classes; c++)
			n += cl->runs[r].cls_exact[c];
	if (cl->xk.n && n) {
		ents = calloc(n, sizeof(*ents));
		keys = malloc(cl->xk.n * sizeof(*keys));
	}
	n = 0;
	for (uint32_t r = 0; ents && keys && r < cl->n_runs; r++) {
		const struct cl_run *run = &cl->runs[r];

		for (uint32_t c = 0; c < run->n_classes; c++) {
			struct cl_xent *xe = &ents[n];

			if (!run->cls_exact[c] ||
			    !xkeys_compact(cl, c, run->cls_xnew[c], run->cls_nkeys[c], &xe->n_good))
				continue; /* not cached: only costs building them */
			memcpy(xe->hash, run->cls_hash[c], sizeof(xe->hash));
			xe->off = nk;
			xe->n = run->cls_nkeys[c];
			for (size_t i = 0; i < xe->n; i++) {
				const struct cl_key *k = &cl->xk.k[run->cls_xnew[c] + i];

				memcpy(keys[nk].d, k->d + 4, sizeof(keys[nk].d));
				keys[nk++].val = k->val;
			}
			n++;
		}
	}
	if (n) {
		cl_xcache[f].ents = ents;
		cl_xcache[f].n = n;
		cl_xcache[f].k = keys;
		cl_xcache[f].exact_fd =
			cl->exact_fd >= 0 ? fcntl(cl->exact_fd, F_DUPFD_CLOEXEC, 3) : -1;
		cl_xcache[f].ports_fd =
			cl->ports_fd >= 0 ? fcntl(cl->ports_fd, F_DUPFD_CLOEXEC, 3) : -1;
		cl_xcache[f].bits_fd =
			cl->bits_fd >= 0 ? fcntl(cl->bits_fd, F_DUPFD_CLOEXEC, 3) : -1;
		memcpy(cl_xcache[f].share, cl->xk_hash, sizeof(cl->xk_hash));
	} else {
		free(ents);
		free(keys);
	}
	free(cl->xk.k);
	cl->xk = (struct keyvec){0};
}

void bf_classify_cache_clear(void)
{
	cache_free(0);
	cache_free(1);
	outer_free(0);
	outer_free(1);
	xcache_free(0);
	xcache_free(1);
}

static struct cl_hash class_hash_start(const struct cl_run *run, uint32_t c)
{
	struct cl_hash h = {.a = 0x84222325cbf29ce4ull, .b = 0xbb67ae8584caa73bull};
	const struct cl_sig *s = &run->classes[c];

	hash_u32(&h, c);
	hash_bytes(&h, s, offsetof(struct cl_sig, mode) + sizeof(s->mode));
	hash_bytes(&h, &run->cls_exact[c], sizeof(run->cls_exact[c]));
	return h;
}

/* The hash of a class of `size` entries, the last word: the hash of every prefix of a class's
 * entries costs one step per entry (split_appended). */
static void class_hash_end(struct cl_hash h, size_t size, uint64_t out[2])
{
	hash_word(&h, size);
	out[0] = h.a;
	out[1] = h.b;
}

/* Every class's hash (run->cls_hash) in one pass over the run's entries. */
static void class_hashes(struct cl_run *run, const struct cl_rent *ents, size_t n)
{
	struct cl_hash h[BF_CL_MAX_CLASSES + 1];
	size_t size[BF_CL_MAX_CLASSES + 1] = {0};

	for (uint32_t c = 0; c < run->n_classes; c++)
		h[c] = class_hash_start(run, c);
	for (size_t k = 0; k < n; k++) {
		hash_rent(&h[ents[k].cls], &ents[k], 0, ents[k].accept);
		size[ents[k].cls]++;
	}
	for (uint32_t c = 0; c < run->n_classes; c++)
		class_hash_end(h[c], size[c], run->cls_hash[c]);
}

/* Everything class_keys() reads for a run, with entry indices relative to the run. */
static void run_hash(const struct cl_run *run, const struct cl_rent *ents, size_t n,
		     uint64_t out[2])
{
	struct cl_hash h = {.a = 0xcbf29ce484222325ull, .b = 0x6a09e667f3bcc909ull};

	hash_u32(&h, (uint32_t)n);
	hash_u32(&h, run->n_classes);
	for (uint32_t c = 0; c < run->n_classes; c++) {
		const struct cl_sig *s = &run->classes[c];

		/* Built from zeroed memory and compared this way (struct cl_sig). */
		hash_bytes(&h, s, offsetof(struct cl_sig, mode) + sizeof(s->mode));
		hash_u32(&h, run->cls_size[c]);
		hash_bytes(&h, &run->cls_exact[c], sizeof(run->cls_exact[c]));
	}
	for (size_t k = 0; k < n; k++) {
		hash_rent(&h, &ents[k], ents[k].cls, ents[k].accept);
	}
	out[0] = h.a;
	out[1] = h.b;
}

/* Whether an entry of signature s can join class c, and what c becomes: the same guard and the
 * same keyed fields; unless `strict`, an exact port field and a prefix one unify as a prefix
 * field (with two prefix fields or more that may copy many entries under wide prefixes: set
 * pruning). */
static bool sig_join(const struct cl_sig *c, const struct cl_sig *s, bool strict,
		     struct cl_sig *out)
{
	if (memcmp(c, s, offsetof(struct cl_sig, mode)))
		return false;
	if (strict && memcmp(c->mode, s->mode, sizeof(c->mode)))
		return false;
	for (int f = 0; f < CF_N; f++)
		if ((c->mode[f] == CM_NONE) != (s->mode[f] == CM_NONE))
			return false;
	*out = *c;
	for (int f = 0; f < CF_N; f++)
		if (c->mode[f] != s->mode[f])
			out->mode[f] = CM_PREFIX;
	return true;
}

/* The class of every entry of [first, end) (cls_of), joined in entry order; false if they
 * need more than BF_CL_MAX_CLASSES or one cannot be classified. */
static bool assign_classes(const struct bf_table_model *m, uint32_t first, uint32_t end,
			   bool strict, struct cl_sig *classes, uint32_t *n_classes,
			   uint8_t *cls_of)
{
	struct cl_ent ce;
	uint32_t n = 0;

	for (uint32_t j = first; j < end; j++) {
		struct cl_sig joined;
		int c = -1;

		if (is_hole(m, j)) {
			cls_of[j] = BF_CL_HOLE;
			continue;
		}
		if (cl_entry(m, &m->entries[j], &ce))
			return false;
		/* Class 0 is the run's first entry alone: tested inline and before the others,
		 * so a packet that matches it (the hot rule heading a list) makes no lookup, every
		 * later class being skipped. */
		for (uint32_t k = 1; k < n && c < 0; k++)
			if (sig_join(&classes[k], &ce.sig, strict, &joined)) {
				classes[k] = joined;
				c = (int)k;
			}
		if (c < 0) {
			if (n == BF_CL_MAX_CLASSES)
				return false;
			c = (int)n++;
			classes[c] = ce.sig;
		}
		cls_of[j] = (uint8_t)c;
	}
	*n_classes = n;
	return true;
}

static bool same_field(const struct cl_val *a, const struct cl_val *b, int f)
{
	if ((a->inv ^ b->inv) & (1u << f))
		return false;
	if (f == CF_SRC || f == CF_DST)
		return a->addr[f - CF_SRC] == b->addr[f - CF_SRC] &&
		       a->msk[f - CF_SRC] == b->msk[f - CF_SRC];
	return a->lo[f] == b->lo[f] && a->hi[f] == b->hi[f];
}

/* Put a field back into the guard of class s, with the value v every entry has. */
static void guard_field(struct cl_sig *s, const struct cl_val *v, int f)
{
	bool inv = v->inv & (1u << f);
	bool tcp = s->l4 == &bf_match_tcp;
	uint16_t *pts;
	uint8_t *invflags;

	s->mode[f] = CM_NONE;
	if (f == CF_SRC) {
		s->ip.src.s_addr = v->addr[0];
		s->ip.smsk.s_addr = v->msk[0];
		s->ip.invflags |= inv ? IPT_INV_SRCIP : 0;
		return;
	}
	if (f == CF_DST) {
		s->ip.dst.s_addr = v->addr[1];
		s->ip.dmsk.s_addr = v->msk[1];
		s->ip.invflags |= inv ? IPT_INV_DSTIP : 0;
		return;
	}
	if (tcp) {
		pts = f == CF_SPORT ? s->l4data.tcp.spts : s->l4data.tcp.dpts;
		invflags = &s->l4data.tcp.invflags;
	} else {
		pts = f == CF_SPORT ? s->l4data.udp.spts : s->l4data.udp.dpts;
		invflags = &s->l4data.udp.invflags;
	}
	pts[0] = v->lo[f];
	pts[1] = v->hi[f];
	if (inv)
		*invflags |= f == CF_SPORT ? (tcp ? XT_TCP_INV_SRCPT : XT_UDP_INV_SRCPT)
					   : (tcp ? XT_TCP_INV_DSTPT : XT_UDP_INV_DSTPT);
}

/* A keyed field with the same value in every entry of its class is tested once by the guard
 * instead: one level and its keys fewer (e.g. "! --dport 5000:5010" on a whole list). */
static void guard_constant_fields(struct cl_run *run, const struct cl_rent *ents, uint32_t n)
{
	const struct cl_rent *e0[BF_CL_MAX_CLASSES + 1] = {NULL};
	bool same[BF_CL_MAX_CLASSES + 1][CF_N];

	/* One pass over the entries, each compared with the first of its class. */
	for (uint32_t k = 0; k < n; k++) {
		uint8_t c = ents[k].cls;

		if (!e0[c]) {
			e0[c] = &ents[k];
			for (int f = 0; f < CF_N; f++)
				same[c][f] = true;
			continue;
		}
		for (int f = 0; f < CF_N; f++)
			same[c][f] = same[c][f] && same_field(&e0[c]->v, &ents[k].v, f);
	}
	for (uint32_t c = 0; c < run->n_classes; c++)
		for (int f = 0; e0[c] && f < CF_N; f++)
			if (same[c][f] && run->classes[c].mode[f] != CM_NONE)
				guard_field(&run->classes[c], &e0[c]->v, f);
}

/* An address field that is a host (/32, not inverted) in every entry of its class is exact:
 * its value goes in the first key, a level fewer, and a class left without prefix fields is
 * one hash lookup (e.g. "-d HOST -p udp --dport PORT" lists). */
static void exact_host_fields(struct cl_run *run, const struct cl_rent *ents, uint32_t n)
{
	for (uint32_t c = 0; c < run->n_classes; c++) {
		for (int f = CF_SRC; f <= CF_DST; f++) {
			bool hosts = run->classes[c].mode[f] == CM_PREFIX;

			for (uint32_t k = 0; k < n && hosts; k++)
				if (ents[k].cls == c)
					hosts = !(ents[k].v.inv & (1u << f)) &&
						ents[k].v.msk[f - CF_SRC] == UINT32_MAX;
			if (hosts)
				run->classes[c].mode[f] = CM_EXACT;
		}
	}
}

/* Class 0 (the first entry alone, tested inline) costs what its linear code would: it does not
 * count against the run. */
static bool worth_it(uint32_t n_entries, uint32_t n_classes)
{
	return n_entries >= BF_CL_MIN_ENTRIES &&
	       n_entries >= BF_CL_ENTRIES_PER_CLASS * (n_classes ? n_classes - 1 : 0);
}

void bf_classify_free(struct bf_classify *cl)
{
	if (!cl)
		return;
	for (uint32_t r = 0; r < cl->n_runs; r++) {
		free(cl->runs[r].classes);
		free(cl->runs[r].cls_first);
		free(cl->runs[r].cls_size);
		free(cl->runs[r].cls_trie);
		free(cl->runs[r].cls_exact);
		for (uint32_t c = 0; c < cl->runs[r].n_classes; c++) {
			if (cl->runs[r].cls_fd[c] >= 0)
				close(cl->runs[r].cls_fd[c]);
			if (cl->runs[r].cls_dir[c] >= 0)
				close(cl->runs[r].cls_dir[c]);
		}
		free(cl->runs[r].cls_fd);
		free(cl->runs[r].cls_dir);
		free(cl->runs[r].cls_port);
		free(cl->runs[r].cls_hash);
		free(cl->runs[r].cls_nkeys);
		free(cl->runs[r].cls_xold);
		free(cl->runs[r].cls_xnew);
	}
	free(cl->runs);
	free(cl->big);
	free(cl->xk.k);
	free(cl->cls_of);
	free(cl->run_at);
	free(cl->no_mid);
	for (int l = 0; l < CL_N_LAYOUTS; l++)
		if (cl->map_fd[l] >= 0)
			close(cl->map_fd[l]);
	if (cl->exact_fd >= 0)
		close(cl->exact_fd);
	if (cl->ports_fd >= 0)
		close(cl->ports_fd);
	if (cl->bits_fd >= 0)
		close(cl->bits_fd);
	free(cl);
}

static int remember_big(struct bf_classify *cl, const uint64_t h[2])
{
	uint64_t(*p)[2] = reallocarray(cl->big, cl->n_big + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	cl->big = p;
	cl->big[cl->n_big][0] = h[0];
	cl->big[cl->n_big++][1] = h[1];
	return 0;
}

static void run_free(struct cl_run *run)
{
	free(run->classes);
	free(run->cls_first);
	free(run->cls_size);
	free(run->cls_trie);
	free(run->cls_exact);
	free(run->cls_hash);
	free(run->cls_nkeys);
	free(run->cls_xold);
	free(run->cls_xnew);
	for (uint32_t c = 0; run->cls_fd && c < run->n_classes; c++)
		if (run->cls_fd[c] >= 0)
			close(run->cls_fd[c]);
	for (uint32_t c = 0; run->cls_dir && c < run->n_classes; c++)
		if (run->cls_dir[c] >= 0)
			close(run->cls_dir[c]);
	free(run->cls_fd);
	free(run->cls_dir);
	free(run->cls_port);
}

/*
 * A class the last table had, with entries appended (an `iptables -A` whose rule joins a class):
 * the cached trie serves the entries it had, and the appended ones become a class of their own
 * (tested inline when at most BF_CL_INLINE_MAX), instead of the whole trie being built again.
 * Exact for any such split: a class is only a grouping of entries that share a guard, and the
 * smallest index over all classes decides. The longest cached prefix is taken; one split per
 * run (its spare class), none that would make the run not worth it. Needs run->cls_hash; true
 * if it split (the hashes are then stale).
 */
static bool split_appended(const struct bf_classify *cl, struct cl_run *run, struct cl_rent *ents,
			   size_t n, uint8_t *cls_of)
{
	uint32_t nc = run->n_classes;

	if (nc >= BF_CL_MAX_CLASSES || !worth_it((uint32_t)n, nc + 1))
		return false;
	for (uint32_t c = 0; c < nc; c++) {
		struct cl_hash h;
		uint64_t pre[2];
		size_t taken = 0, cut = 0, moved = 0;

		if (!class_has_trie(run, c) || cache_has(cl->family, run->cls_hash[c]))
			continue;
		h = class_hash_start(run, c);
		for (size_t j = 0; j < n; j++) {
			if (ents[j].cls != c)
				continue;
			hash_rent(&h, &ents[j], 0, ents[j].accept);
			taken++;
			if (taken <= BF_CL_INLINE_MAX || taken == run->cls_size[c])
				continue;
			class_hash_end(h, taken, pre);
			if (cache_has(cl->family, pre))
				cut = j + 1;
		}
		if (!cut)
			continue;
		run->classes[nc] = run->classes[c];
		for (size_t j = cut; j < n; j++) {
			if (ents[j].cls != c)
				continue;
			if (!moved++)
				run->cls_first[nc] = run->first + ents[j].idx;
			ents[j].cls = (uint8_t)nc;
			cls_of[run->first + ents[j].idx] = (uint8_t)nc;
		}
		run->cls_size[c] -= (uint32_t)moved;
		run->cls_size[nc] = (uint32_t)moved;
		run->n_classes++;
		return true;
	}
	return false;
}

/*
 * Make [first, end) a run if it is worth it: classes, keys. When its keys would explode (set
 * pruning under nested prefixes), each half is tried on its own; what is left is linear code.
 */
static int classify_range(struct bf_classify *cl, const struct bf_table_model *m, uint32_t first,
			  uint32_t end, bool strict, uint8_t *cls_of, const struct bf_log *log)
{
	uint32_t n = 0, mid, n_t, nc;
	struct cl_run run;
	_cleanup_free_ struct cl_rent *ents = NULL;
	_cleanup_free_ uint32_t *sel = NULL;
	uint32_t n_exact = 0;
	struct cl_ent ce;
	int r;

	/* A run starts and ends with a classified entry: its lookups are made at its start. */
	while (first < end && is_hole(m, first))
		first++;
	while (end > first && is_hole(m, end - 1))
		end--;
	memset(&run, 0, sizeof(run));
	run.first = first;
	run.end = end;
	for (uint32_t k = first; k < end; k++) {
		if (is_hole(m, k))
			run.holes = true;
		else
			n++;
	}
	run.classes = malloc(sizeof(*run.classes) * BF_CL_MAX_CLASSES);
	if (!run.classes)
		return -ENOMEM;
	if (!assign_classes(m, first, end, strict, run.classes, &run.n_classes, cls_of) ||
	    !worth_it(n, run.n_classes)) {
		free(run.classes);
		/* Strict classes may be too many: halves have fewer. */
		if (!strict || n < 2 * BF_CL_MIN_ENTRIES)
			return 0;
		mid = first + (end - first) / 2;
		r = classify_range(cl, m, first, mid, true, cls_of, log);
		if (!r)
			r = classify_range(cl, m, mid, end, true, cls_of, log);
		return r;
	}
	ents = calloc(n ? n : 1, sizeof(*ents));
	sel = malloc(sizeof(*sel) * (n ? n : 1));
	/* one spare class for split_appended() */
	nc = run.n_classes + 1;
	run.cls_first = calloc(nc, sizeof(*run.cls_first));
	run.cls_size = calloc(nc, sizeof(*run.cls_size));
	run.cls_trie = calloc(nc, sizeof(*run.cls_trie));
	run.cls_exact = calloc(nc, sizeof(*run.cls_exact));
	run.cls_fd = malloc(sizeof(*run.cls_fd) * nc);
	run.cls_dir = malloc(sizeof(*run.cls_dir) * nc);
	run.cls_port = malloc(sizeof(*run.cls_port) * nc);
	run.cls_hash = calloc(nc, sizeof(*run.cls_hash));
	run.cls_nkeys = calloc(nc, sizeof(*run.cls_nkeys));
	run.cls_xold = malloc(sizeof(*run.cls_xold) * nc);
	run.cls_xnew = calloc(nc, sizeof(*run.cls_xnew));
	if (!ents || !sel || !run.cls_first || !run.cls_size || !run.cls_trie || !run.cls_exact ||
	    !run.cls_fd || !run.cls_dir || !run.cls_port || !run.cls_hash || !run.cls_nkeys ||
	    !run.cls_xold || !run.cls_xnew) {
		free(run.cls_fd);
		free(run.cls_dir);
		run.cls_fd = run.cls_dir = NULL;
		run_free(&run);
		return -ENOMEM;
	}
	for (uint32_t c = 0; c < nc; c++) {
		run.cls_fd[c] = run.cls_dir[c] = run.cls_port[c] = -1;
		run.cls_xold[c] = SIZE_MAX;
	}
	for (uint32_t k = end; k-- > first;) {
		if (cls_of[k] == BF_CL_HOLE)
			continue;
		run.cls_first[cls_of[k]] = k;
		run.cls_size[cls_of[k]]++;
	}
	for (uint32_t j = first, k = 0; j < end; j++) {
		const struct bf_entry *e = &m->entries[j];

		if (cls_of[j] == BF_CL_HOLE)
			continue;
		cl_entry(m, e, &ce);
		ents[k].v = ce.v;
		ents[k].idx = j - first; /* relative: the tries do not depend on where the run is */
		ents[k].cls = cls_of[j];
		ents[k].accept = e->target.kind == BF_TGT_ACCEPT;
		k++;
	}
	guard_constant_fields(&run, ents, n);
	exact_host_fields(&run, ents, n);
	class_kinds(&run);
	class_hashes(&run, ents, n);
	if (split_appended(cl, &run, ents, n, cls_of)) {
		class_kinds(&run);
		class_hashes(&run, ents, n);
	}
	n_t = class_kinds(&run);
	if (cl->n_tries + n_t > BF_CL_MAX_TRIES) {
		if (!cl->over_tries)
			bf_logf(log, BF_LOG_DEBUG,
				"classify: more than %u tries: entries %u..%u stay linear",
				BF_CL_MAX_TRIES, first, end - 1);
		cl->over_tries = true;
		run_free(&run);
		return 0;
	}
	run_hash(&run, ents, n, run.hash);
	/* as the last table found out, or the keys: the tries the cache has, the others built */
	r = cache_is_big(cl->family, run.hash) ? -E2BIG
					       : run_count(cl, cl->n_runs, &run, ents, n, sel);
	if (!r)
		r = run_build(cl, cl->n_runs, &run, ents, n, sel, log);
	for (uint32_t c = 0; !r && c < run.n_classes; c++)
		run.n_keys += run.cls_exact[c] || run.cls_fd[c] >= 0 ? run.cls_nkeys[c] : 0;
	if (r) {
		run_free(&run);
		if (r != -E2BIG)
			return r;
		r = remember_big(cl, run.hash);
		if (r)
			return r;
		bf_logf(log, BF_LOG_DEBUG, "classify: entries %u..%u need too many keys: %s", first,
			end - 1, strict ? "split" : "strict classes");
		/* First without unified modes (what makes set pruning copy), then in halves. */
		if (!strict)
			return classify_range(cl, m, first, end, true, cls_of, log);
		if (n < 2 * BF_CL_MIN_ENTRIES)
			return 0;
		mid = first + (end - first) / 2;
		r = classify_range(cl, m, first, mid, true, cls_of, log);
		if (!r)
			r = classify_range(cl, m, mid, end, true, cls_of, log);
		return r;
	}
	if (cl->n_runs == cl->runs_cap) {
		/* a few runs per table: grown as found, not sized for the worst case (n / 8) */
		uint32_t cap = cl->runs_cap ? cl->runs_cap * 2 : 8;
		struct cl_run *p = reallocarray(cl->runs, cap, sizeof(*p));

		if (!p) {
			run_free(&run);
			return -ENOMEM;
		}
		cl->runs = p;
		cl->runs_cap = cap;
	}
	for (uint32_t c = 0; c < run.n_classes; c++) {
		n_exact += run.cls_exact[c];
		if (run.cls_fd[c] >= 0)
			run.cls_trie[c] = cl->n_tries++;
	}
	cl->n_reused += run.n_reused;
	cl->n_dirs += run.n_dirs;
	cl->n_ports += run.n_ports;
	bf_logf(log, BF_LOG_DEBUG,
		"classify: run %u: entries %u..%u%s, %u classes (%u exact, %u tries, %u "
		"directories), %zu keys%s%s",
		cl->n_runs, first, end - 1, run.holes ? " (across jumps)" : "", run.n_classes,
		n_exact, n_t, run.n_dirs, run.n_keys, run.n_reused ? " (some tries reused)" : "",
		run.n_xreused ? " (exact keys copied)" : "");
	for (uint32_t k = first; k < end; k++)
		cl->run_at[k] = cls_of[k] == BF_CL_HOLE ? -1 : (int32_t)cl->n_runs;
	cl->n_classified += n;
	cl->runs[cl->n_runs++] = run;
	return 0;
}

/*
 * Greedy: from each classifiable entry, extend while entries are classifiable, no region starts
 * and the classes fit; keep the longest prefix worth it.
 */
static int find_runs(struct bf_classify *cl, const struct bf_table_model *m,
		     const int32_t *region_at, const struct bf_log *log)
{
	uint8_t *cls_of = cl->cls_of;
	_cleanup_free_ struct cl_sig *classes = malloc(sizeof(*classes) * BF_CL_MAX_CLASSES);
	struct cl_ent ce;
	uint32_t i = 0;
	int r;

	if (!classes)
		return -ENOMEM;
	while (i < m->n_entries) {
		uint32_t j = i, best = i, n = 0, n_ents = 0;

		for (; j < m->n_entries; j++) {
			struct cl_sig joined;
			int c = -1;

			if (j > i && region_at[j] >= 0 && !may_continue_at(cl, m, j))
				break;
			if (j > i && is_hole_at(cl, m, j))
				continue;
			if (cl_entry(m, &m->entries[j], &ce))
				break;
			n_ents++;
			/* as assign_classes: the first entry is a class of its own */
			for (uint32_t k = 1; k < n && c < 0; k++)
				if (sig_join(&classes[k], &ce.sig, false, &joined)) {
					classes[k] = joined;
					c = (int)k;
				}
			if (c < 0) {
				if (n == BF_CL_MAX_CLASSES)
					break;
				classes[n++] = ce.sig;
			}
			if (worth_it(n_ents, n))
				best = j + 1;
		}
		if (best == i) {
			/* Too many classes from here: a later start may do better. */
			i += j > i + 1 ? (j - i) / 2 : 1;
			continue;
		}
		r = classify_range(cl, m, i, best, false, cls_of, log);
		if (r)
			return r;
		i = best;
	}
	return 0;
}

int bf_classify_new(const struct bf_table_model *m, const int32_t *region_at,
		    const uint8_t *inlined, const struct bf_log *log, struct bf_classify **out)
{
	struct bf_classify *cl = calloc(1, sizeof(*cl));
	int err = 0;

	if (!cl)
		return -ENOMEM;
	cl->map_fd[CL_LONG] = cl->map_fd[CL_SHORT] = -1;
	cl->exact_fd = cl->ports_fd = cl->bits_fd = -1;
	cl->m = m;
	cl->family = m->family;
	cl->n_entries = m->n_entries;
	cl->cls_of = malloc(m->n_entries ? m->n_entries : 1);
	if (!cl->cls_of) {
		free(cl);
		return -ENOMEM;
	}
	cl->run_at = malloc(sizeof(*cl->run_at) * m->n_entries);
	if (!cl->run_at) {
		free(cl->cls_of);
		free(cl);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->n_entries; i++)
		cl->run_at[i] = -1;
	cl->no_mid = calloc(m->n_entries ? m->n_entries : 1, 1);
	if (!cl->no_mid) {
		bf_classify_free(cl);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct bf_entry *e = &m->entries[i];

		if ((e->target.kind == BF_TGT_JUMP || e->target.kind == BF_TGT_GOTO) &&
		    e->target.jump < m->n_entries)
			cl->no_mid[e->target.jump] = 1;
	}
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		if (!(m->valid_hooks & (1u << h)))
			continue;
		cl->no_mid[m->hook_entry[h]] = 1;
		cl->no_mid[m->underflow[h]] = 1;
	}
	cl->inlined = inlined;
	if (cl_enabled)
		err = find_runs(cl, m, region_at, log);
	cl->inlined = NULL; /* the caller's array: only find_runs reads it */
	if (!err && cl->n_runs)
		err = fill_map(cl, log);
	if (err) {
		bf_classify_free(cl);
		return err;
	}
	if (cl_enabled) {
		/* a linear compile (tests) leaves the caches alone */
		cache_set(cl);
		xcache_set(cl);
	}
	*out = cl;
	return 0;
}

int bf_classify_map_fd(const struct bf_classify *cl)
{
	return cl->map_fd[CL_LONG];
}

int bf_classify_short_fd(const struct bf_classify *cl)
{
	return cl->map_fd[CL_SHORT];
}

int bf_classify_exact_fd(const struct bf_classify *cl)
{
	return cl->exact_fd;
}

/* One past the segment of run r that starts at i: the next hole or the run's end. */
static uint32_t seg_end(const struct bf_classify *cl, int32_t r, uint32_t i)
{
	while (i < cl->runs[r].end && cl->run_at[i] == r)
		i++;
	return i;
}

uint32_t bf_classify_run_end(const struct bf_classify *cl, uint32_t i)
{
	int32_t r = cl->run_at[i];

	if (r < 0 || (cl->runs[r].first != i && cl->run_at[i - 1] >= 0))
		return 0;
	return seg_end(cl, r, i);
}

void bf_classify_stats(const struct bf_classify *cl, uint32_t *n_entries, uint32_t *n_runs,
		       uint32_t *n_tries, uint32_t *n_reused)
{
	*n_entries = cl->n_classified;
	*n_runs = cl->n_runs;
	*n_tries = cl->n_tries;
	*n_reused = cl->n_reused;
}

/* Copy field f of the packet into the key at pkt + `off` (ports: 2 bytes, then 2 zero bytes). */
static void key_field(struct bf_builder *b, int f, int16_t off)
{
	static const int16_t pkt_off[CF_N] = {
		[CF_SPORT] = BF_PKT_OFF(sport),
		[CF_DPORT] = BF_PKT_OFF(dport),
		[CF_SRC] = BF_PKT_OFF(saddr[0]),
		[CF_DST] = BF_PKT_OFF(daddr[0]),
	};

	/* A port is loaded zero-extended and stored as the whole word: a word written in two
	 * stores of different widths cannot be forwarded to the word-sized (or wider) loads that
	 * read it next (the filter's hash, the helpers), which then wait for both to retire. */
	bool port = f == CF_SPORT || f == CF_DPORT;

	bf_emit(b, BF_LDX_MEM(port ? BPF_H : BPF_W, BPF_REG_1, BPF_REG_7, pkt_off[f]));
	if (port && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		bf_emit(b, BF_ALU32_IMM(BPF_LSH, BPF_REG_1, 16)); /* the port first, then zeros */
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, off));
}

/* Maps a program may load by fd: the verifier's limit (MAX_USED_MAPS, 64) less the slots
 * (BF_MAP_SLOT_MAX) and a margin. Tests lower it (bf_classify_set_direct_max). */
#define BF_CL_DIRECT_MAX 36
static unsigned int cl_direct_max = BF_CL_DIRECT_MAX;

void bf_classify_set_direct_max(unsigned int n)
{
	cl_direct_max = n < BF_CL_DIRECT_MAX ? n : BF_CL_DIRECT_MAX;
}

/* R0 = the value of the key at fp-8 in the map at R1; NULL goes to `null`. */
static void emit_lookup_fp8(struct bf_builder *b, bf_label null)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, null);
}

/*
 * R8 = the trie of class c, loaded by its fd: no lookup in the outer array per packet, and no
 * outer array to fill at a replace (a map of maps' update waits for an RCU grace period, 10-15
 * ms of an `iptables -A` whose rule changed one trie). Past BF_CL_DIRECT_MAX tries in one
 * program, the outer array's lookup (which the verifier inlines).
 */
static void emit_trie(struct bf_classify *cl, struct bf_builder *b, const struct cl_run *crun,
		      uint32_t c, bf_label miss)
{
	int fd = crun->cls_fd[c];
	uint32_t trie = crun->cls_trie[c];

	if (fd >= 0 && (bf_builder_has_map_fd(b, fd) || bf_builder_n_map_fds(b) < cl_direct_max)) {
		bf_emit_ld_map_fd(b, BPF_REG_8, fd);
		return;
	}
	cl->outer_needed[class_layout(&crun->classes[c])] = true;
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, (int32_t)trie));
	bf_emit_ld_map(b, BPF_REG_1,
		       class_layout(&crun->classes[c]) == CL_SHORT ? BF_MAP_CLASSIFY_SHORT
								   : BF_MAP_CLASSIFY);
	emit_lookup_fp8(b, miss);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_0));
}

/* Look the key up in the trie at R8. */
static void emit_map_lookup(struct bf_builder *b, bf_label miss)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_7));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_KEY));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, miss);
}

static void emit_min_r1(struct bf_builder *b);

/* Whether a program can load one more map by fd (or has it already). */
static bool fd_fits(struct bf_builder *b, int fd)
{
	return bf_builder_has_map_fd(b, fd) || bf_builder_n_map_fds(b) < cl_direct_max;
}

/* The directory `dir` for field f of the packet, loaded by fd (the verifier inlines the
 * lookup): DIR_NONE goes to `miss`, DIR_WALK to `walk`, else to `hit` (R0 points at the level-0
 * value, as after the trie's lookup). */
static void emit_dir(struct bf_builder *b, int dir, int f, bf_label hit, bf_label walk,
		     bf_label miss)
{
	bf_comment(b, "directory: the /16 of field %d", f);
	if (f == CF_SRC || f == CF_DST) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7,
				      f == CF_SRC ? BF_PKT_OFF(saddr[0]) : BF_PKT_OFF(daddr[0])));
		bf_emit(b, BF_BE(BPF_REG_2, 32));
		bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_2, 16));
	} else {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_7,
				      f == CF_SPORT ? BF_PKT_OFF(sport) : BF_PKT_OFF(dport)));
		bf_emit(b, BF_BE(BPF_REG_2, 16));
	}
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, -8));
	bf_emit_ld_map_fd(b, BPF_REG_1, dir);
	emit_lookup_fp8(b, walk);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)DIR_NONE, miss);
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)DIR_WALK, walk);
	bf_emit_ja(b, hit);
}

/* The key's bit in the hash's filter (bits_hash): clear goes to `miss`. The bit's number waits
 * in the key's prefix field, which the hash does not read. */
static void emit_bits(struct bf_builder *b, int fd, bf_label miss)
{
	bf_label lookup = bf_label_new(b);

	bf_comment(b, "h = (key words xored) * %#x >> %d: its bit in the filter", BF_CL_BITS_MUL,
		   32 - BF_CL_BITS_LOG);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_KEY + 4));
	for (int16_t o = 8; o < 4 + KEY_FIXED; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, (int16_t)(PKT_KEY + o)));
		bf_emit(b, BF_ALU32_REG(BPF_XOR, BPF_REG_1, BPF_REG_2));
	}
	bf_emit(b, BF_ALU32_IMM(BPF_MUL, BPF_REG_1, (int32_t)BF_CL_BITS_MUL));
	bf_emit(b, BF_ALU32_IMM(BPF_RSH, BPF_REG_1, 32 - BF_CL_BITS_LOG));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_KEY + 4 + KEY_FIXED));
	bf_emit(b, BF_ALU32_IMM(BPF_RSH, BPF_REG_1, 6));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, -8));
	bf_emit_ld_map_fd(b, BPF_REG_1, fd);
	emit_lookup_fp8(b, lookup);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_KEY + 4 + KEY_FIXED));
	bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_2, 63));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_ALU64_REG(BPF_RSH, BPF_REG_1, BPF_REG_2));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, miss);
	bf_label_bind(b, lookup);
}

/* Walk the levels of (run, tag) for the packet; keep the smaller value in pkt->cl_cur. */
static void emit_lookup(struct bf_classify *cl, struct bf_builder *b, const struct cl_run *crun,
			uint32_t run, uint8_t tag, uint32_t c, const struct cl_sig *s, bool bad,
			uint32_t const_val, bf_label done)
{
	bool exact = crun->cls_exact[c];
	uint32_t trie = crun->cls_trie[c];
	uint32_t scope = htobe32(exact ? run << 8 | tag : tag), w;
	uint8_t mode[CF_N], lf[CF_N], n_lf;
	bool keyed = false;
	bf_label value;

	class_fields(s, bad, mode, lf, &n_lf);
	for (int f = 0; f < CF_N; f++)
		keyed |= mode[f] != CM_NONE;
	if (!keyed) {
		/* Nothing keyed: every entry of the class tests the same, the first one wins. */
		bf_comment(b, "class %u: its first entry", tag & ~BF_CL_TAG_BAD);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, (int32_t)const_val));
		emit_min_r1(b);
		return;
	}
	value = bf_label_new(b);
	if (exact && !bad && crun->cls_port[c] >= 0) {
		int f = s->mode[CF_SPORT] == CM_EXACT ? CF_SPORT : CF_DPORT;

		bf_comment(b, "exact class of one port: block %d of the ports array",
			   crun->cls_port[c]);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_7,
				      f == CF_SPORT ? BF_PKT_OFF(sport) : BF_PKT_OFF(dport)));
		bf_emit(b, BF_BE(BPF_REG_2, 16));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2,
					(int32_t)((uint32_t)crun->cls_port[c] * BF_CL_DIR_SIZE)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, -8));
		bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CLASSIFY_PORTS);
		emit_lookup_fp8(b, done);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
		bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)DIR_NONE, done);
		goto tail;
	}
	if (!exact && class_layout(s) == CL_SHORT) {
		bf_label walk = bf_label_new(b), level1 = bf_label_new(b);

		bf_comment(b, "trie %u (run %u, class %u), short keys", trie, run,
			   tag & ~BF_CL_TAG_BAD);
		emit_trie(cl, b, crun, c, done);
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY, KEY_SHORT_FIXED_BITS + 32));
		if (!bad && crun->cls_dir[c] >= 0 && n_lf && fd_fits(b, crun->cls_dir[c]))
			emit_dir(b, crun->cls_dir[c], lf[0], n_lf > 1 ? level1 : value, walk, done);
		bf_label_bind(b, walk);
		memcpy(&w, &scope, 4);
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 4, (int32_t)w));
		if (n_lf)
			key_field(b, lf[0], PKT_KEY + 8);
		else
			bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 8, 0));
		emit_map_lookup(b, done);
		bf_label_bind(b, level1);
		for (unsigned int l = 1; l < n_lf; l++) {
			bf_comment(b, "next level: (node, field %u)", lf[l]);
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
			bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_KEY + 4));
			key_field(b, lf[l], PKT_KEY + 8);
			emit_map_lookup(b, done);
		}
		goto tail; /* the value, as after the long path */
	}
	if (!exact) {
		bf_comment(b, "trie %u (run %u, class %u)", trie, run, tag & ~BF_CL_TAG_BAD);
		emit_trie(cl, b, crun, c, done);
	}
	bf_comment(b, "key (run %u, class %u%s)", run, tag & ~BF_CL_TAG_BAD,
		   bad ? ", hotdrop" : "");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY, KEY_FIXED_BITS + 32));
	memcpy(&w, &scope, 4);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 4, (int32_t)w));
	/* The exact ports' word, built in a register and stored once (see key_field()): bytes
	 * 8-9 the source port, 10-11 the destination port, as in the packet; in a word of the
	 * host's order, the port at the higher address is the high half on little-endian. */
	if (mode[CF_SPORT] == CM_EXACT || mode[CF_DPORT] == CM_EXACT) {
		bool le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

		if (mode[CF_SPORT] == CM_EXACT)
			bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(sport)));
		else
			bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 0));
		if (mode[CF_DPORT] == CM_EXACT)
			bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(dport)));
		else
			bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
		bf_emit(b, BF_ALU32_IMM(BPF_LSH, le ? BPF_REG_2 : BPF_REG_1, 16));
		bf_emit(b, BF_ALU32_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_KEY + 8));
	} else {
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 8, 0));
	}
	if (mode[CF_SRC] == CM_EXACT)
		key_field(b, CF_SRC, PKT_KEY + 12);
	else
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 12, 0));
	if (mode[CF_DST] == CM_EXACT)
		key_field(b, CF_DST, PKT_KEY + 16);
	else
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 16, 0));
	if (n_lf)
		key_field(b, lf[0], PKT_KEY + 4 + KEY_FIXED);
	else
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 4 + KEY_FIXED, 0));
	if (exact) {
		if (cl->bits_fd >= 0 && fd_fits(b, cl->bits_fd))
			emit_bits(b, cl->bits_fd, done);
		bf_comment(b, "exact class: its %u bytes in the hash", KEY_FIXED);
		bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CLASSIFY_EXACT);
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_7));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_KEY + 4));
		bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, done);
	} else {
		emit_map_lookup(b, done);
	}
	for (unsigned int l = 1; l < n_lf; l++) {
		bf_comment(b, "next level: (node, field %u)", lf[l]);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_KEY + 4));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 8, 0));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 12, 0));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_KEY + 16, 0));
		key_field(b, lf[l], PKT_KEY + 4 + KEY_FIXED);
		emit_map_lookup(b, done);
	}
tail:
	bf_label_bind(b, value);
	bf_comment(b, "value + (run's first entry << 2): the values are relative to the run");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, (int32_t)(crun->first << 2)));
	emit_min_r1(b);
}

/* best = min(best, R1) without a branch: a branch per class would give the verifier one more
 * state to explore at every join. Both are in [0, 2^32]. */
static void emit_min_r1(struct bf_builder *b)
{
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_7, PKT_BEST));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_ARSH, BPF_REG_3, 63));
	bf_emit(b, BF_ALU64_REG(BPF_AND, BPF_REG_1, BPF_REG_3));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_7, BPF_REG_2, PKT_BEST));
}

/* Skip what follows when an entry before `idx` already matched (the minimum cannot change). */
static void emit_skip_if_found(struct bf_builder *b, uint32_t idx, bf_label skip)
{
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_BEST));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, (int32_t)(idx << 2), skip);
}

/* A small class: each entry's own tests (as the linear code has them); a match or a hotdrop
 * offers its value to the minimum. */
static int emit_inline_class(const struct bf_classify *cl, struct bf_builder *b,
			     enum bf_prog_ctx pctx, const struct cl_run *run, uint8_t c,
			     const struct bf_classify_labels *l)
{
	for (uint32_t k = run->first; k < run->end; k++) {
		const struct bf_entry *e = &cl->m->entries[k];
		bf_label skip, hd;
		struct bf_emit_ctx ctx;
		int r;

		if (cl->cls_of[k] != c)
			continue;
		skip = bf_label_new(b);
		hd = bf_label_new(b);
		ctx = (struct bf_emit_ctx){
			.b = b,
			.family = NFPROTO_IPV4,
			.prog_ctx = pctx,
			.entry = e,
			.miss = skip,
			.hotdrop = hd,
			.drop = l->drop,
			.accept = l->accept,
			.cont = skip,
		};
		bf_comment(b, "entry %u, tested inline", k);
		emit_skip_if_found(b, k, skip);
		/* never taken (R7 is not NULL): keeps the hotdrop block in the CFG when no test
		 * can hotdrop */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_7, 0, hd);
		r = bf_emit_ipmatch(&ctx, e);
		for (uint32_t i = 0; !r && i < e->n_matches; i++)
			r = e->matches[i].ext->emit(&ctx, e->matches[i].data);
		if (r)
			return r;
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1,
					(int32_t)(k << 2 | (e->target.kind == BF_TGT_ACCEPT))));
		emit_min_r1(b);
		bf_emit_ja(b, skip);
		bf_label_bind(b, hd);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, (int32_t)(k << 2 | 2)));
		emit_min_r1(b);
		bf_label_bind(b, skip);
	}
	return bf_builder_err(b);
}

static int emit_class(struct bf_classify *cl, struct bf_builder *b, enum bf_prog_ctx pctx,
		      const struct cl_run *crun, uint32_t run, uint8_t c, const struct cl_sig *s,
		      const struct bf_classify_labels *l)
{
	bf_label skip = {0};
	uint32_t first, val;
	union bf_entry_ip gip = {.v4 = s->ip};
	struct bf_entry ge = {.ip = &gip};
	struct bf_emit_ctx ctx = {
		.b = b,
		.family = NFPROTO_IPV4,
		.prog_ctx = pctx,
		.entry = &ge,
		.drop = l->drop,
		.accept = l->accept,
	};
	int r;

	if (crun->cls_size[c] <= BF_CL_INLINE_MAX)
		return emit_inline_class(cl, b, pctx, crun, c, l);
	first = crun->cls_first[c];
	val = first << 2 | (cl->m->entries[first].target.kind == BF_TGT_ACCEPT);
	skip = bf_label_new(b);
	ctx.miss = ctx.hotdrop = ctx.cont = skip;
	bf_comment(b, "class %u: guard", c);
	emit_skip_if_found(b, crun->cls_first[c], skip);
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
		emit_lookup(cl, b, crun, run, c, c, s, false, val, skip);
		bf_emit_ja(b, skip);
		bf_label_bind(b, bad);
		emit_lookup(cl, b, crun, run, c | BF_CL_TAG_BAD, c, s, true, first << 2 | 2, skip);
	} else {
		emit_lookup(cl, b, crun, run, c, c, s, false, val, skip);
	}
	bf_label_bind(b, skip);
	return bf_builder_err(b);
}

static void emit_best_slot(struct bf_builder *b, bf_label fail);
static int emit_result(struct bf_builder *b, uint32_t end, const struct bf_classify_labels *l);

int bf_classify_emit_run(struct bf_classify *cl, struct bf_builder *b, enum bf_prog_ctx pctx,
			 uint32_t first, const struct bf_classify_labels *l)
{
	const struct cl_run *run;
	uint32_t id, end;
	int r;

	if (first >= cl->n_entries || !bf_classify_run_end(cl, first))
		return -EINVAL;
	id = (uint32_t)cl->run_at[first];
	run = &cl->runs[id];
	end = seg_end(cl, (int32_t)id, first);
	if (first != run->first) {
		bf_comment(b, "classified run %u, entries %u..%u: its result, found at entry %u",
			   id, first, end - 1, run->first);
		emit_best_slot(b, l->fail);
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_1, BF_PKT_OFF(cl_best[0])));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_7, BPF_REG_2, PKT_BEST));
		return emit_result(b, end, l);
	}
	bf_comment(b, "classified run %u: entries %u..%u, %u classes", id, run->first, run->end - 1,
		   run->n_classes);
	bf_comment(b, "best = 1 << 32 (no entry)");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 32));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_7, BPF_REG_1, PKT_BEST));
	/* The tries take the program's map budget first: a directory only shortens a trie's
	 * walk, and it gets what the tries leave. A trie past the budget would cost a lookup in
	 * the outer array per packet, and the outer array a grace period to fill at a replace. */
	for (uint32_t c = 0; c < run->n_classes; c++)
		if (run->cls_fd[c] >= 0 && bf_builder_n_map_fds(b) < cl_direct_max)
			bf_builder_use_map_fd(b, run->cls_fd[c]);
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
			r = emit_class(cl, b, pctx, run, id, (uint8_t)c, &run->classes[c], l);
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
			r = emit_class(cl, b, pctx, run, id, (uint8_t)k, &run->classes[k], l);
			if (r)
				return r;
		}
		bf_label_bind(b, other);
	}

	if (run->holes) {
		bf_comment(b, "pkt->cl_best[pkt->jsp] = best: the segments after the jumps use it");
		emit_best_slot(b, l->fail);
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_7, PKT_BEST));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_2, BF_PKT_OFF(cl_best[0])));
	}
	return emit_result(b, end, l);
}

/* R1 = pkt + 8 * pkt->jsp: the address of cl_best[jsp] less its offset. */
static void emit_best_slot(struct bf_builder *b, bf_label fail)
{
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(jsp)));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, BF_JSTACK_MAX, fail);
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 3));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_7));
}

/* With the run's result in pkt->cl_cur: an entry before `end` (the end of this segment) matched:
 * count it and apply its verdict (or hotdrop); otherwise continue after the segment. */
static int emit_result(struct bf_builder *b, uint32_t end, const struct bf_classify_labels *l)
{
	bf_comment(b, "no entry before %u matched: continue after the segment", end);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_BEST));
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, (int32_t)(end << 2), l->next);
	bf_comment(b, "hotdrop: not counted");
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 2, l->hotdrop);
	bf_comment(b, "counters[best >> 2]: packets++, bytes += pkt->len");
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 2));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 10));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, -8));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_COUNTERS);
	emit_lookup_fp8(b, l->fail);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_BEST));
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
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_BEST));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 1, l->accept);
	bf_emit_ja(b, l->drop);
	return bf_builder_err(b);
}
