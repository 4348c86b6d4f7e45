// SPDX-License-Identifier: GPL-2.0-only
/*
 * xtblob: sends well-formed and malformed x_tables requests (IPv4, table "filter") and prints the
 * result of each case as "case-name: ok" or "case-name: EINVAL", one line per case.
 *
 * It talks to whatever answers IPT_SO_* in its network namespace: the kernel, or bpfilterd when run
 * with the preload shim. tests/e2e/blobs.sh runs it against both and diffs the outputs; nothing
 * here encodes an expected answer. Blobs are laid out as libiptc lays them out (built-in chains in
 * hook order, then user chains with an ERROR head and a RETURN foot, then the ERROR tail), then
 * one thing is broken per case (see the x_tables contract, sections 3 and 4).
 *
 * A replace that succeeds is undone at once: the table read at the start of the case is written
 * back and the counters the replace returned are added back, so every case starts from and leaves
 * the same table. Successful replaces also print the installed table's size and each entry's
 * comefrom (the hook mask found by mark_source_chains), which both sides must agree on.
 *
 * Usage: xtblob [--list] [CASE...]   (no CASE: every case, in order)
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/cleanup.h>

#define TABLE "filter"
#define BLOB_MAX 16384
#define ENT_MAX 64
#define FIX_MAX 16
#define NOSUCH_NAME "xtblob_nosuch"

#define ENTRY_SZ ((unsigned int)sizeof(struct ipt_entry))		      /* 112 */
#define STD_TG_SZ ((unsigned int)XT_ALIGN(sizeof(struct xt_standard_target))) /* 40 */
#define ERR_TG_SZ ((unsigned int)XT_ALIGN(sizeof(struct xt_error_target)))    /* 64 */
#define MATCH_HDR_SZ ((unsigned int)sizeof(struct xt_entry_match))	      /* 32 */

/* ---- blob builder ---------------------------------------------------------------------------- */

struct tb {
	unsigned int valid_hooks;
	uint32_t hook_entry[NF_INET_NUMHOOKS];
	uint32_t underflow[NF_INET_NUMHOOKS];
	_Alignas(8) uint8_t buf[BLOB_MAX];
	uint32_t size;
	unsigned int n;
	uint32_t off[ENT_MAX];
	/* Jumps whose target is not laid out yet: verdict of entry `from` = offset of `to` + delta.
	 */
	struct {
		unsigned int from, to;
		int delta;
	} fix[FIX_MAX];
	unsigned int nfix;
	bool overflow; /* sticky: checked once before sending */
};

static void tb_init(struct tb *t, unsigned int valid_hooks)
{
	memset(t, 0, sizeof(*t));
	t->valid_hooks = valid_hooks;
}

static struct ipt_entry *tb_ent(struct tb *t, unsigned int i)
{
	return (struct ipt_entry *)(t->buf + t->off[i]);
}

static struct xt_entry_target *tb_tgt(struct tb *t, unsigned int i)
{
	struct ipt_entry *e = tb_ent(t, i);

	return (struct xt_entry_target *)((uint8_t *)e + e->target_offset);
}

static int *tb_verdict(struct tb *t, unsigned int i)
{
	return &((struct xt_standard_target *)tb_tgt(t, i))->verdict;
}

/* Appends one entry: header, `mlen` bytes of matches, `tlen` bytes of target. Returns its index. */
static unsigned int tb_put(struct tb *t, const struct ipt_ip *ip, const void *m, unsigned int mlen,
			   const void *tg, unsigned int tlen)
{
	struct ipt_entry e = {0};
	unsigned int i = t->n;

	if (t->n >= ENT_MAX || t->size + ENTRY_SZ + mlen + tlen > BLOB_MAX) {
		t->overflow = true;
		return 0;
	}
	if (ip)
		e.ip = *ip;
	e.target_offset = ENTRY_SZ + mlen;
	e.next_offset = ENTRY_SZ + mlen + tlen;
	memcpy(t->buf + t->size, &e, sizeof(e));
	if (mlen)
		memcpy(t->buf + t->size + ENTRY_SZ, m, mlen);
	memcpy(t->buf + t->size + ENTRY_SZ + mlen, tg, tlen);
	t->off[i] = t->size;
	t->size += e.next_offset;
	t->n++;
	return i;
}

static unsigned int tb_std(struct tb *t, const struct ipt_ip *ip, const void *m, unsigned int mlen,
			   int verdict)
{
	struct xt_standard_target st = {0};

	st.target.u.user.target_size = STD_TG_SZ;
	st.verdict = verdict;
	return tb_put(t, ip, m, mlen, &st, STD_TG_SZ);
}

/* A standard entry jumping to entry `to` (which may come later) + delta bytes. */
static unsigned int tb_jump(struct tb *t, const struct ipt_ip *ip, unsigned int to, int delta)
{
	unsigned int i = tb_std(t, ip, NULL, 0, 0);

	if (t->nfix >= FIX_MAX) {
		t->overflow = true;
		return i;
	}
	t->fix[t->nfix].from = i;
	t->fix[t->nfix].to = to;
	t->fix[t->nfix].delta = delta;
	t->nfix++;
	return i;
}

static unsigned int tb_error(struct tb *t, const char *name)
{
	struct xt_error_target et = {0};

	et.target.u.user.target_size = ERR_TG_SZ;
	snprintf(et.target.u.user.name, sizeof(et.target.u.user.name), "%s", XT_ERROR_TARGET);
	snprintf(et.errorname, sizeof(et.errorname), "%s", name);
	return tb_put(t, NULL, NULL, 0, &et, ERR_TG_SZ);
}

static void tb_hook(struct tb *t, unsigned int hook)
{
	t->hook_entry[hook] = t->size;
}

static unsigned int tb_policy(struct tb *t, unsigned int hook, int verdict)
{
	t->underflow[hook] = t->size;
	return tb_std(t, NULL, NULL, 0, verdict);
}

static void tb_finish(struct tb *t)
{
	for (unsigned int k = 0; k < t->nfix; k++) {
		if (t->fix[k].to >= t->n) {
			t->overflow = true;
			continue;
		}
		*tb_verdict(t, t->fix[k].from) = (int)t->off[t->fix[k].to] + t->fix[k].delta;
	}
}

/* A match of `total` bytes (header included) whose size field says `size_field`. */
static unsigned int mk_match(uint8_t *out, const char *name, uint8_t rev, const void *data,
			     unsigned int dlen, unsigned int total, uint16_t size_field)
{
	struct xt_entry_match m = {0};

	m.u.user.match_size = size_field;
	snprintf(m.u.user.name, sizeof(m.u.user.name), "%s", name);
	m.u.user.revision = rev;
	memset(out, 0, total);
	memcpy(out, &m, sizeof(m));
	if (dlen)
		memcpy(out + MATCH_HDR_SZ, data, dlen);
	return total;
}

static unsigned int mk_tcp(uint8_t *out, uint8_t rev, uint8_t invflags)
{
	struct xt_tcp tcp = {.spts = {0, 0xffff}, .dpts = {22, 22}, .invflags = invflags};
	unsigned int total = MATCH_HDR_SZ + XT_ALIGN(sizeof(tcp));

	return mk_match(out, "tcp", rev, &tcp, sizeof(tcp), total, total);
}

/*
 * The table every replace case starts from, in libiptc's layout:
 *   INPUT:   -s 10.0.0.1 -j X ; -i lo -j ACCEPT (or e1's match) ; policy ACCEPT
 *   FORWARD: policy DROP
 *   OUTPUT:  -d 10.0.0.2 -j DROP ; policy ACCEPT
 *   X:       ERROR "X" ; -p udp -j ACCEPT ; -s 10.0.0.3 -j DROP ; RETURN
 *   Y:       ERROR "Y" ; RETURN                (not referenced)
 *   ERROR "ERROR"
 */
struct def {
	unsigned int in_jump, in_rule, in_pol, fwd_pol, out_rule, out_pol, post_pol;
	unsigned int x_head, x_r1, x_r2, x_foot, y_head, y_foot, tail;
};

#define DEF_SWAP_IN_FWD 0x1  /* FORWARD laid out before INPUT */
#define DEF_ADD_POST 0x2     /* a POSTROUTING chain too (valid_hooks 0x1e) */
#define DEF_POLICY_MATCH 0x4 /* INPUT's policy entry carries a match */

struct def_opts {
	unsigned int flags;
	/* INPUT's second rule: these matches and this ipt_ip instead of "-i lo". */
	const void *e1_match;
	unsigned int e1_mlen;
	const struct ipt_ip *e1_ip;
};

static void ip_src(struct ipt_ip *ip, const char *addr)
{
	inet_pton(AF_INET, addr, &ip->src);
	ip->smsk.s_addr = 0xffffffff;
}

static void ip_dst(struct ipt_ip *ip, const char *addr)
{
	inet_pton(AF_INET, addr, &ip->dst);
	ip->dmsk.s_addr = 0xffffffff;
}

static void def_input(struct tb *t, struct def *d, const struct def_opts *o, unsigned int x_r1)
{
	struct ipt_ip ip = {0};
	uint8_t pm[64];
	unsigned int pmlen;

	tb_hook(t, NF_INET_LOCAL_IN);
	ip_src(&ip, "10.0.0.1");
	d->in_jump = tb_jump(t, &ip, x_r1, 0);
	if (o && (o->e1_match || o->e1_ip)) {
		memset(&ip, 0, sizeof(ip));
		d->in_rule = tb_std(t, o->e1_ip ? o->e1_ip : &ip, o->e1_match,
				    o->e1_match ? o->e1_mlen : 0, -NF_ACCEPT - 1);
	} else {
		memset(&ip, 0, sizeof(ip));
		snprintf(ip.iniface, sizeof(ip.iniface), "lo");
		memset(ip.iniface_mask, 0xff, 3);
		d->in_rule = tb_std(t, &ip, NULL, 0, -NF_ACCEPT - 1);
	}
	if (o && (o->flags & DEF_POLICY_MATCH)) {
		pmlen = mk_match(pm, NOSUCH_NAME, 0, NULL, 0, MATCH_HDR_SZ, MATCH_HDR_SZ);
		t->underflow[NF_INET_LOCAL_IN] = t->size;
		d->in_pol = tb_std(t, NULL, pm, pmlen, -NF_ACCEPT - 1);
	} else {
		d->in_pol = tb_policy(t, NF_INET_LOCAL_IN, -NF_ACCEPT - 1);
	}
}

static void def_forward(struct tb *t, struct def *d)
{
	tb_hook(t, NF_INET_FORWARD);
	d->fwd_pol = tb_policy(t, NF_INET_FORWARD, -NF_DROP - 1);
}

static void tb_default(struct tb *t, struct def *d, const struct def_opts *o)
{
	unsigned int flags = o ? o->flags : 0;
	struct ipt_ip ip = {0};
	/* Entry indices are known before layout: X's first rule comes right after X's head. */
	unsigned int nbase = 6 + ((flags & DEF_ADD_POST) ? 1 : 0);
	unsigned int x_r1 = nbase + 1;

	tb_init(t, (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT) |
			   ((flags & DEF_ADD_POST) ? (1 << NF_INET_POST_ROUTING) : 0));
	if (flags & DEF_SWAP_IN_FWD) {
		def_forward(t, d);
		def_input(t, d, o, x_r1);
	} else {
		def_input(t, d, o, x_r1);
		def_forward(t, d);
	}
	tb_hook(t, NF_INET_LOCAL_OUT);
	ip_dst(&ip, "10.0.0.2");
	d->out_rule = tb_std(t, &ip, NULL, 0, -NF_DROP - 1);
	d->out_pol = tb_policy(t, NF_INET_LOCAL_OUT, -NF_ACCEPT - 1);
	d->post_pol = 0;
	if (flags & DEF_ADD_POST) {
		tb_hook(t, NF_INET_POST_ROUTING);
		d->post_pol = tb_policy(t, NF_INET_POST_ROUTING, -NF_ACCEPT - 1);
	}
	d->x_head = tb_error(t, "X");
	memset(&ip, 0, sizeof(ip));
	ip.proto = IPPROTO_UDP;
	d->x_r1 = tb_std(t, &ip, NULL, 0, -NF_ACCEPT - 1);
	memset(&ip, 0, sizeof(ip));
	ip_src(&ip, "10.0.0.3");
	d->x_r2 = tb_std(t, &ip, NULL, 0, -NF_DROP - 1);
	d->x_foot = tb_std(t, NULL, NULL, 0, XT_RETURN);
	d->y_head = tb_error(t, "Y");
	d->y_foot = tb_std(t, NULL, NULL, 0, XT_RETURN);
	d->tail = tb_error(t, XT_ERROR_TARGET);
	if (d->x_r1 != x_r1)
		t->overflow = true; /* the layout above and x_r1 disagree: a bug here */
	tb_finish(t);
}

/* Drops every entry from index i on (the blob then ends before entry i). */
static void tb_truncate(struct tb *t, unsigned int i)
{
	t->size = t->off[i];
	t->n = i;
}

/* ---- the x_tables calls ---------------------------------------------------------------------- */

static int sock_fd = -1;

static int xget(int optname, void *buf, socklen_t *len)
{
	if (getsockopt(sock_fd, SOL_IP, optname, buf, len) < 0)
		return -errno;
	return 0;
}

static int xset(int optname, const void *buf, socklen_t len)
{
	if (setsockopt(sock_fd, SOL_IP, optname, buf, len) < 0)
		return -errno;
	return 0;
}

static int get_info(const char *name, struct ipt_getinfo *info)
{
	struct ipt_getinfo gi = {0};
	socklen_t len = sizeof(gi);
	int r;

	snprintf(gi.name, sizeof(gi.name), "%s", name);
	r = xget(IPT_SO_GET_INFO, &gi, &len);
	if (r)
		return r;
	*info = gi;
	return 0;
}

/* The table's entries (malloc'd, *out), for size bytes as GET_INFO reported. */
static int get_entries(const char *name, uint32_t size, struct ipt_get_entries **out)
{
	_cleanup_free_ struct ipt_get_entries *ge = NULL;
	socklen_t len = sizeof(*ge) + size;
	int r;

	ge = calloc(1, len);
	if (!ge)
		return -ENOMEM;
	snprintf(ge->name, sizeof(ge->name), "%s", name);
	ge->size = size;
	r = xget(IPT_SO_GET_ENTRIES, ge, &len);
	if (r)
		return r;
	*out = TAKE_PTR(ge);
	return 0;
}

static const char *errname(int err)
{
	static char buf[32];
	const char *s;

	if (!err)
		return "ok";
	s = strerrorname_np(err < 0 ? -err : err);
	if (s)
		return s;
	snprintf(buf, sizeof(buf), "errno%d", err < 0 ? -err : err);
	return buf;
}

/* A replace request for blob t. The caller may break any header field before sending. */
struct req {
	struct ipt_replace *r;
	socklen_t len;
	struct xt_counters *counters;
	uint32_t ncounters; /* entries the counters buffer holds */
};

static void req_free(struct req *q)
{
	free(q->r);
	free(q->counters);
	q->r = NULL;
	q->counters = NULL;
}

static int req_build(struct req *q, const struct tb *t, const char *name, uint32_t num_counters)
{
	struct ipt_replace *r;

	r = calloc(1, sizeof(*r) + t->size + 64);
	if (!r)
		return -ENOMEM;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->valid_hooks = t->valid_hooks;
	r->num_entries = t->n;
	r->size = t->size;
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		/* libiptc writes 0 for hooks the table does not have */
		r->hook_entry[h] = (t->valid_hooks & (1u << h)) ? t->hook_entry[h] : 0;
		r->underflow[h] = (t->valid_hooks & (1u << h)) ? t->underflow[h] : 0;
	}
	memcpy(r->entries, t->buf, t->size);
	/* Room for the old counters even when num_counters is broken (+1 covers the +1 case). */
	q->ncounters = (num_counters < 4096 ? num_counters : 0) + 1;
	q->counters = calloc(q->ncounters, sizeof(struct xt_counters));
	if (!q->counters) {
		free(r);
		return -ENOMEM;
	}
	r->num_counters = num_counters;
	r->counters = q->counters;
	q->r = r;
	q->len = sizeof(*r) + t->size;
	return 0;
}

/* Writes back table `orig` (read at the start of the case) and adds back `old`, the counters
 * the case's replace returned, so that the table is exactly as before. */
static int restore(const struct ipt_getinfo *oi, const struct ipt_get_entries *orig,
		   const struct xt_counters *old)
{
	_cleanup_free_ struct ipt_replace *r = NULL;
	_cleanup_free_ struct xt_counters *tmp = NULL;
	_cleanup_free_ struct xt_counters_info *ci = NULL;
	struct ipt_getinfo cur;
	size_t cilen;
	int err;

	err = get_info(TABLE, &cur);
	if (err)
		return err;
	r = calloc(1, sizeof(*r) + oi->size);
	tmp = calloc(cur.num_entries + 1, sizeof(*tmp));
	cilen = sizeof(*ci) + oi->num_entries * sizeof(struct xt_counters);
	ci = calloc(1, cilen);
	if (!r || !tmp || !ci)
		return -ENOMEM;
	snprintf(r->name, sizeof(r->name), "%s", TABLE);
	r->valid_hooks = oi->valid_hooks;
	r->num_entries = oi->num_entries;
	r->size = oi->size;
	for (unsigned int h = 0; h < NF_INET_NUMHOOKS; h++) {
		r->hook_entry[h] = (oi->valid_hooks & (1u << h)) ? oi->hook_entry[h] : 0;
		r->underflow[h] = (oi->valid_hooks & (1u << h)) ? oi->underflow[h] : 0;
	}
	memcpy(r->entries, orig->entrytable, oi->size);
	r->num_counters = cur.num_entries;
	r->counters = tmp;
	err = xset(IPT_SO_SET_REPLACE, r, sizeof(*r) + oi->size);
	if (err)
		return err;
	snprintf(ci->name, sizeof(ci->name), "%s", TABLE);
	ci->num_counters = oi->num_entries;
	memcpy(ci->counters, old, oi->num_entries * sizeof(struct xt_counters));
	return xset(IPT_SO_SET_ADD_COUNTERS, ci, cilen);
}

/* After a successful replace: what the table now holds, for the output line. */
static void print_installed(void)
{
	_cleanup_free_ struct ipt_get_entries *ge = NULL;
	struct ipt_getinfo gi;
	uint32_t pos;
	int err;

	err = get_info(TABLE, &gi);
	if (!err)
		err = get_entries(TABLE, gi.size, &ge);
	if (err) {
		printf(" [read back: %s]", errname(err));
		return;
	}
	printf(" [n=%u size=%u comefrom=", gi.num_entries, gi.size);
	for (pos = 0; pos + sizeof(struct ipt_entry) <= gi.size;) {
		const struct ipt_entry *e = (const void *)((const uint8_t *)ge->entrytable + pos);

		printf("%s%x", pos ? "," : "", e->comefrom);
		if (e->next_offset < sizeof(struct ipt_entry))
			break;
		pos += e->next_offset;
	}
	printf("]");
}

/*
 * Sends a prepared replace and prints the outcome. On success, prints what was installed and
 * restores the table read by the caller before the case.
 */
static void send_replace(const char *cname, struct req *q, const struct ipt_getinfo *oi,
			 const struct ipt_get_entries *orig)
{
	_cleanup_free_ struct xt_counters *old = NULL;
	int err, rerr;

	err = xset(IPT_SO_SET_REPLACE, q->r, q->len);
	printf("%s: %s", cname, errname(err));
	if (!err) {
		/* Keep the original table's counters, which the replace just returned. */
		old = calloc(oi->num_entries + 1, sizeof(*old));
		if (old)
			memcpy(old, q->counters,
			       (q->ncounters < oi->num_entries ? q->ncounters : oi->num_entries) *
				       sizeof(*old));
		print_installed();
		rerr = old ? restore(oi, orig, old) : -ENOMEM;
		if (rerr)
			printf(" [restore failed: %s]", errname(rerr));
	}
	printf("\n");
}

/* ---- cases ----------------------------------------------------------------------------------- */

/* Everything a replace case needs: the table as it was, and a default blob to break. */
struct rctx {
	struct ipt_getinfo oi;
	struct ipt_get_entries *orig;
	struct tb t;
	struct def d;
	struct req q;
};

static int rctx_begin(struct rctx *c, const struct def_opts *o)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = get_info(TABLE, &c->oi);
	if (!err)
		err = get_entries(TABLE, c->oi.size, &c->orig);
	if (err)
		return err;
	tb_default(&c->t, &c->d, o);
	return 0;
}

static void rctx_end(struct rctx *c)
{
	req_free(&c->q);
	free(c->orig);
	c->orig = NULL;
}

/* Builds the request from c->t (after the case broke the blob) with the right num_counters. */
static int rctx_req(struct rctx *c, const char *name)
{
	if (c->t.overflow)
		return -E2BIG;
	return req_build(&c->q, &c->t, name, c->oi.num_entries);
}

enum mut {
	M_NONE,
	/* header (section 3) */
	M_LEN_SHORT,
	M_LEN_LONGER,
	M_NCNT_ZERO,
	M_NCNT_HUGE,
	M_NCNT_PLUS1,
	M_NCNT_MINUS1,
	M_SIZE_GT_LEN,
	M_UNKNOWN_TABLE,
	M_NENT_PLUS1,
	M_NENT_MINUS1,
	M_HOOK_INSIDE,
	M_UNDERFLOW_INSIDE,
	M_HOOK_DUP,
	/* entries (section 4) */
	M_MISALIGNED_NEXT,
	M_NEXT_SMALL,
	M_NEXT_ZERO,
	M_PAST_END,
	M_TRUNC_HEADER,
	M_BAD_FLAGS,
	M_BAD_INVFLAGS,
	M_TO_SMALL,
	M_TO_NO_ROOM,
	M_STD_TGSIZE_SMALL,
	M_VERDICT_0,
	M_VERDICT_M3,
	M_VERDICT_M6,
	M_ERR_UNTERM,
	M_MATCH_SMALL,
	M_MATCH_OVERFLOW,
	M_MATCH_GAP,
	M_MATCH_MISALIGNED,
	M_UF_RETURN,
	M_UF_QUEUE,
	M_UF_COND,
	M_SELF_LOOP,
	M_LOOP_XYX,
	M_JUMP_MIDDLE,
	M_JUMP_PAST_END,
	M_FALL_OFF_END,
	M_TARGET_UNKNOWN,
	/* accepted oddities */
	M_JUMP_ERROR_HEAD,
	M_JUMP_OTHER_BASE,
	M_RETURN_BASE_COND,
	M_RETURN_BASE_UNCOND,
	M_GOTO,
	M_NO_ERROR_TAIL,
	M_UNREF_NO_RETURN,
	M_GARBAGE_COUNTERS,
	M_QUEUE_RULE,
};

static void mut_apply(struct rctx *c, enum mut m)
{
	struct ipt_replace *r = c->q.r;

	switch (m) {
	case M_NONE:
		break;
	case M_LEN_SHORT:
		c->q.len = sizeof(*r) - 1;
		break;
	case M_LEN_LONGER:
		c->q.len += 64; /* req_build left room */
		break;
	case M_NCNT_ZERO:
		r->num_counters = 0;
		break;
	case M_NCNT_HUGE:
		r->num_counters = INT_MAX / sizeof(struct xt_counters);
		break;
	case M_NCNT_PLUS1:
		r->num_counters++;
		break;
	case M_NCNT_MINUS1:
		r->num_counters--;
		break;
	case M_SIZE_GT_LEN:
		r->size += 8;
		break;
	case M_UNKNOWN_TABLE:
		snprintf(r->name, sizeof(r->name), NOSUCH_NAME);
		break;
	case M_NENT_PLUS1:
		r->num_entries++;
		break;
	case M_NENT_MINUS1:
		r->num_entries--;
		break;
	case M_HOOK_INSIDE:
		r->hook_entry[NF_INET_LOCAL_OUT] += 8;
		break;
	case M_UNDERFLOW_INSIDE:
		r->underflow[NF_INET_LOCAL_OUT] += 8;
		break;
	case M_HOOK_DUP:
		r->hook_entry[NF_INET_FORWARD] = r->hook_entry[NF_INET_LOCAL_IN];
		break;
	default:
		break;
	}
}

/* Entry-level breakage, applied to the blob before the request is built. */
static void blob_apply(struct rctx *c, enum mut m)
{
	struct tb *t = &c->t;
	struct def *d = &c->d;
	struct ipt_entry *e;

	switch (m) {
	case M_NEXT_SMALL:
		tb_ent(t, d->x_r1)->next_offset = ENTRY_SZ + 24;
		break;
	case M_NEXT_ZERO:
		tb_ent(t, d->x_r1)->next_offset = 0;
		break;
	case M_PAST_END:
		tb_ent(t, d->tail)->next_offset += 8;
		break;
	case M_TRUNC_HEADER:
		t->size = t->off[d->tail] + 100;
		break;
	case M_BAD_FLAGS:
		tb_ent(t, d->x_r2)->ip.flags = 0x04;
		break;
	case M_BAD_INVFLAGS:
		tb_ent(t, d->x_r2)->ip.invflags = 0x80;
		break;
	case M_TO_SMALL:
		tb_ent(t, d->x_r2)->target_offset = ENTRY_SZ - 8;
		break;
	case M_TO_NO_ROOM:
		tb_ent(t, d->x_r2)->target_offset = ENTRY_SZ + 16;
		break;
	case M_STD_TGSIZE_SMALL:
		tb_tgt(t, d->x_r2)->u.target_size = 24;
		break;
	case M_VERDICT_0:
		*tb_verdict(t, d->x_r2) = 0;
		break;
	case M_VERDICT_M3:
		*tb_verdict(t, d->x_r2) = -3;
		break;
	case M_VERDICT_M6:
		*tb_verdict(t, d->x_r2) = -6;
		break;
	case M_ERR_UNTERM:
		memset(((struct xt_error_target *)tb_tgt(t, d->y_head))->errorname, 'Y',
		       sizeof(((struct xt_error_target *)0)->errorname));
		break;
	case M_UF_RETURN:
		*tb_verdict(t, d->in_pol) = XT_RETURN;
		break;
	case M_UF_QUEUE:
		*tb_verdict(t, d->in_pol) = -NF_QUEUE - 1;
		break;
	case M_UF_COND:
		tb_ent(t, d->in_pol)->ip.proto = IPPROTO_TCP;
		break;
	case M_SELF_LOOP:
		*tb_verdict(t, d->x_r2) = (int)t->off[d->x_r2];
		break;
	case M_LOOP_XYX:
		/* X's second rule jumps to Y, whose foot jumps back to X's first rule. */
		*tb_verdict(t, d->x_r2) = (int)t->off[d->y_foot];
		*tb_verdict(t, d->y_foot) = (int)t->off[d->x_r1];
		break;
	case M_JUMP_MIDDLE:
		*tb_verdict(t, d->in_jump) = (int)t->off[d->x_r1] + 8;
		break;
	case M_JUMP_PAST_END:
		*tb_verdict(t, d->in_jump) = (int)t->size + 8;
		break;
	case M_FALL_OFF_END:
		/* X loses its RETURN foot and is the last thing in the blob. */
		tb_truncate(t, d->x_foot);
		break;
	case M_JUMP_ERROR_HEAD:
		*tb_verdict(t, d->in_jump) = (int)t->off[d->x_head];
		break;
	case M_JUMP_OTHER_BASE:
		*tb_verdict(t, d->in_jump) = (int)t->off[d->out_rule];
		break;
	case M_RETURN_BASE_COND:
		*tb_verdict(t, d->in_rule) = XT_RETURN;
		break;
	case M_RETURN_BASE_UNCOND:
		e = tb_ent(t, d->out_rule);
		memset(&e->ip, 0, sizeof(e->ip));
		*tb_verdict(t, d->out_rule) = XT_RETURN;
		break;
	case M_GOTO:
		tb_ent(t, d->in_jump)->ip.flags |= IPT_F_GOTO;
		break;
	case M_NO_ERROR_TAIL:
		tb_truncate(t, d->tail);
		break;
	case M_UNREF_NO_RETURN:
		ip_src(&tb_ent(t, d->y_foot)->ip, "10.0.0.4");
		break;
	case M_GARBAGE_COUNTERS:
		for (unsigned int i = 0; i < t->n; i++) {
			e = tb_ent(t, i);
			e->counters.pcnt = 1000 + i;
			e->counters.bcnt = 99999;
			e->comefrom = 0x5a5a;
			e->nfcache = 0xdead;
		}
		break;
	case M_QUEUE_RULE:
		*tb_verdict(t, d->x_r2) = -NF_QUEUE - 1;
		break;
	default:
		break;
	}
}

/* A default blob broken by `m` (blob-level, then header-level), sent to table `name`. */
static void case_mut(const char *cname, enum mut m, const struct def_opts *o)
{
	struct rctx c;
	int err;

	err = rctx_begin(&c, o);
	if (!err) {
		blob_apply(&c, m);
		err = rctx_req(&c, TABLE);
	}
	if (err) {
		printf("%s: setup failed: %s\n", cname, errname(err));
		rctx_end(&c);
		return;
	}
	mut_apply(&c, m);
	send_replace(cname, &c.q, &c.oi, c.orig);
	rctx_end(&c);
}

/*
 * Cases whose blob is not the default one with a field changed: entries of another size. They
 * rebuild the table from scratch with tb_* and a replacement for one entry.
 */
static void case_custom(const char *cname, void (*build)(struct tb *t, struct def *d))
{
	struct rctx c;
	int err;

	err = rctx_begin(&c, NULL);
	if (!err) {
		build(&c.t, &c.d);
		err = rctx_req(&c, TABLE);
	}
	if (err) {
		printf("%s: setup failed: %s\n", cname, errname(err));
		rctx_end(&c);
		return;
	}
	send_replace(cname, &c.q, &c.oi, c.orig);
	rctx_end(&c);
}

/*
 * Replaces X's second rule (entry index d->x_r2) by an arbitrary entry and lays out the rest of
 * the default table after it again: the helpers below give the new entry as (matches, target).
 */
static void rebuild_with_x_r2(struct tb *t, struct def *d, const struct ipt_ip *ip, const void *m,
			      unsigned int mlen, const void *tg, unsigned int tlen)
{
	tb_default(t, d, NULL);
	tb_truncate(t, d->x_r2);
	d->x_r2 = tb_put(t, ip, m, mlen, tg, tlen);
	d->x_foot = tb_std(t, NULL, NULL, 0, XT_RETURN);
	d->y_head = tb_error(t, "Y");
	d->y_foot = tb_std(t, NULL, NULL, 0, XT_RETURN);
	d->tail = tb_error(t, XT_ERROR_TARGET);
}

static void build_misaligned_next(struct tb *t, struct def *d)
{
	/* A 36-byte target that is not the standard one: the next entry starts at an offset that
	 * is not a multiple of 8. The name is unknown, so a late lookup would say ENOENT. */
	uint8_t tg[40] = {0};
	struct xt_entry_target *et = (void *)tg;

	et->u.user.target_size = 36;
	snprintf(et->u.user.name, sizeof(et->u.user.name), "%s", NOSUCH_NAME);
	rebuild_with_x_r2(t, d, NULL, NULL, 0, tg, 36);
}

static void build_std_size(struct tb *t, struct def *d)
{
	/* A standard target of 48 bytes: target_offset + 40 rounded up is not next_offset. */
	uint8_t tg[48] = {0};
	struct xt_standard_target *st = (void *)tg;

	st->target.u.user.target_size = 48;
	st->verdict = -NF_DROP - 1;
	rebuild_with_x_r2(t, d, NULL, NULL, 0, tg, 48);
}

static void build_err_size(struct tb *t, struct def *d)
{
	/* An ERROR target of 56 bytes instead of 64. */
	uint8_t tg[56] = {0};
	struct xt_entry_target *et = (void *)tg;

	et->u.user.target_size = 56;
	snprintf(et->u.user.name, sizeof(et->u.user.name), "%s", XT_ERROR_TARGET);
	snprintf((char *)tg + sizeof(*et), sizeof(tg) - sizeof(*et), "Z");
	rebuild_with_x_r2(t, d, NULL, NULL, 0, tg, 56);
}

static void build_target_unknown(struct tb *t, struct def *d)
{
	uint8_t tg[32] = {0};
	struct xt_entry_target *et = (void *)tg;

	et->u.user.target_size = 32;
	snprintf(et->u.user.name, sizeof(et->u.user.name), "%s", NOSUCH_NAME);
	rebuild_with_x_r2(t, d, NULL, NULL, 0, tg, 32);
}

static void with_match(struct tb *t, struct def *d, const struct ipt_ip *ip, const uint8_t *m,
		       unsigned int mlen)
{
	struct xt_standard_target st = {0};

	st.target.u.user.target_size = STD_TG_SZ;
	st.verdict = -NF_DROP - 1;
	rebuild_with_x_r2(t, d, ip, m, mlen, &st, STD_TG_SZ);
}

static const struct ipt_ip ip_tcp = {.proto = IPPROTO_TCP};

static void build_match_small(struct tb *t, struct def *d)
{
	uint8_t m[32];

	with_match(t, d, NULL, m, mk_match(m, NOSUCH_NAME, 0, NULL, 0, 32, 24));
}

static void build_match_overflow(struct tb *t, struct def *d)
{
	uint8_t m[32];

	with_match(t, d, NULL, m, mk_match(m, NOSUCH_NAME, 0, NULL, 0, 32, 48));
}

static void build_match_gap(struct tb *t, struct def *d)
{
	/* 40 bytes of room, a match of 32: 8 bytes left before the target. */
	uint8_t m[40];

	with_match(t, d, NULL, m, mk_match(m, NOSUCH_NAME, 0, NULL, 0, 40, 32));
}

static void build_match_misaligned(struct tb *t, struct def *d)
{
	/* Two matches in 72 bytes, the first 36 long: the second starts misaligned. */
	uint8_t m[72];

	mk_match(m, NOSUCH_NAME, 0, NULL, 0, 36, 36);
	mk_match(m + 36, NOSUCH_NAME, 0, NULL, 0, 36, 36);
	with_match(t, d, NULL, m, 72);
}

static void build_match_unknown(struct tb *t, struct def *d)
{
	uint8_t m[32];

	with_match(t, d, NULL, m, mk_match(m, NOSUCH_NAME, 0, NULL, 0, 32, 32));
}

static void build_match_unterminated(struct tb *t, struct def *d)
{
	uint8_t m[32];
	struct xt_entry_match *em = (void *)m;

	mk_match(m, "", 0, NULL, 0, 32, 32);
	memset(em->u.user.name, 'm', sizeof(em->u.user.name));
	with_match(t, d, NULL, m, 32);
}

static void build_tcp_valid(struct tb *t, struct def *d)
{
	uint8_t m[64];

	with_match(t, d, &ip_tcp, m, mk_tcp(m, 0, 0));
}

static void build_tcp_rev7(struct tb *t, struct def *d)
{
	uint8_t m[64];

	with_match(t, d, &ip_tcp, m, mk_tcp(m, 7, 0));
}

static void build_tcp_bad_size(struct tb *t, struct def *d)
{
	/* 8 bytes more than XT_ALIGN(sizeof(struct xt_tcp)). */
	struct xt_tcp tcp = {.spts = {0, 0xffff}, .dpts = {22, 22}};
	unsigned int total = MATCH_HDR_SZ + XT_ALIGN(sizeof(tcp)) + 8;
	uint8_t m[64];

	with_match(t, d, &ip_tcp, m, mk_match(m, "tcp", 0, &tcp, sizeof(tcp), total, total));
}

static void build_tcp_no_proto(struct tb *t, struct def *d)
{
	uint8_t m[64];

	with_match(t, d, NULL, m, mk_tcp(m, 0, 0));
}

static void build_tcp_inv_proto(struct tb *t, struct def *d)
{
	struct ipt_ip ip = {.proto = IPPROTO_TCP, .invflags = IPT_INV_PROTO};
	uint8_t m[64];

	with_match(t, d, &ip, m, mk_tcp(m, 0, 0));
}

static void build_tcp_bad_invflags(struct tb *t, struct def *d)
{
	uint8_t m[64];

	with_match(t, d, &ip_tcp, m, mk_tcp(m, 0, 0x80));
}

static void build_tcp_then_unknown(struct tb *t, struct def *d)
{
	/* Check order: a bad-size tcp match followed by an unknown one (tcp is checked first). */
	struct xt_tcp tcp = {.spts = {0, 0xffff}, .dpts = {22, 22}};
	unsigned int total = MATCH_HDR_SZ + XT_ALIGN(sizeof(tcp)) + 8;
	uint8_t m[128];
	unsigned int n;

	n = mk_match(m, "tcp", 0, &tcp, sizeof(tcp), total, total);
	n += mk_match(m + n, NOSUCH_NAME, 0, NULL, 0, 32, 32);
	with_match(t, d, &ip_tcp, m, n);
}

/* ---- getsockopt / add-counters cases --------------------------------------------------------- */

static void case_info_len(const char *cname, socklen_t len)
{
	uint8_t buf[128] = {0};

	snprintf((char *)buf, XT_TABLE_MAXNAMELEN, TABLE);
	printf("%s: %s\n", cname, errname(xget(IPT_SO_GET_INFO, buf, &len)));
}

static void case_info(const char *cname, const char *name)
{
	struct ipt_getinfo gi;
	int err = get_info(name, &gi);

	printf("%s: %s", cname, errname(err));
	if (!err)
		printf(" [hooks=%x n=%u size=%u]", gi.valid_hooks, gi.num_entries, gi.size);
	printf("\n");
}

/* GET_ENTRIES with the size field and the length each moved by a delta from the truth. */
static void case_entries(const char *cname, const char *name, int size_delta, int len_delta)
{
	_cleanup_free_ struct ipt_get_entries *ge = NULL;
	struct ipt_getinfo gi;
	socklen_t len;
	int err;

	err = get_info(TABLE, &gi);
	if (err) {
		printf("%s: setup failed: %s\n", cname, errname(err));
		return;
	}
	len = (socklen_t)((int)(sizeof(*ge) + gi.size) + size_delta + len_delta);
	ge = calloc(1, sizeof(*ge) + gi.size + 64);
	if (!ge) {
		printf("%s: setup failed: %s\n", cname, errname(-ENOMEM));
		return;
	}
	snprintf(ge->name, sizeof(ge->name), "%s", name);
	ge->size = (uint32_t)((int)gi.size + size_delta);
	printf("%s: %s\n", cname, errname(xget(IPT_SO_GET_ENTRIES, ge, &len)));
}

static void case_counters(const char *cname, const char *name, int n_delta, int len_delta)
{
	_cleanup_free_ struct xt_counters_info *ci = NULL;
	struct ipt_getinfo gi;
	unsigned int n;
	size_t len;
	int err;

	err = get_info(TABLE, &gi);
	if (err) {
		printf("%s: setup failed: %s\n", cname, errname(err));
		return;
	}
	n = (unsigned int)((int)gi.num_entries + n_delta);
	len = sizeof(*ci) + n * sizeof(struct xt_counters);
	ci = calloc(1, len + 64);
	if (!ci) {
		printf("%s: setup failed: %s\n", cname, errname(-ENOMEM));
		return;
	}
	snprintf(ci->name, sizeof(ci->name), "%s", name);
	ci->num_counters = n;
	/* All-zero counters: a successful add leaves the table as it was. */
	printf("%s: %s\n", cname,
	       errname(xset(IPT_SO_SET_ADD_COUNTERS, ci, (socklen_t)((int)len + len_delta))));
}

static void case_revision(const char *cname, int optname, const char *name, uint8_t rev,
			  socklen_t len)
{
	uint8_t buf[64] = {0};
	struct xt_get_revision *gr = (void *)buf;

	snprintf(gr->name, sizeof(gr->name), "%s", name);
	gr->revision = rev;
	printf("%s: %s\n", cname, errname(xget(optname, buf, &len)));
}

/* ---- the case table -------------------------------------------------------------------------- */

enum ckind { K_MUT, K_CUSTOM, K_INFO_LEN, K_INFO, K_ENTRIES, K_COUNTERS, K_REV_M, K_REV_T };

struct xcase {
	const char *name;
	enum ckind kind;
	enum mut mut;
	void (*build)(struct tb *t, struct def *d);
	const char *str; /* table or extension name */
	int a, b;	 /* deltas, revision, length */
	unsigned int def_flags;
};

#define MUT(n, m)                                  \
	{                                          \
		.name = n, .kind = K_MUT, .mut = m \
	}
#define MUTF(n, m, f)                                              \
	{                                                          \
		.name = n, .kind = K_MUT, .mut = m, .def_flags = f \
	}
#define CUSTOM(n, f)                                    \
	{                                               \
		.name = n, .kind = K_CUSTOM, .build = f \
	}

static const struct xcase cases[] = {
	/* SET_REPLACE header checks (contract section 3) */
	MUT("replace-valid", M_NONE),
	MUT("replace-len-short", M_LEN_SHORT),
	MUT("replace-len-longer", M_LEN_LONGER),
	MUT("replace-num-counters-0", M_NCNT_ZERO),
	MUT("replace-num-counters-huge", M_NCNT_HUGE),
	MUT("replace-size-gt-len", M_SIZE_GT_LEN),
	MUT("replace-unknown-table", M_UNKNOWN_TABLE),
	MUTF("replace-valid-hooks-mismatch", M_NONE, DEF_ADD_POST),
	MUT("replace-num-counters-plus1", M_NCNT_PLUS1),
	MUT("replace-num-counters-minus1", M_NCNT_MINUS1),
	/* translate_table (section 4) */
	CUSTOM("entry-misaligned-next-offset", build_misaligned_next),
	MUT("entry-next-offset-small", M_NEXT_SMALL),
	MUT("entry-next-offset-zero", M_NEXT_ZERO),
	MUT("entry-past-end", M_PAST_END),
	MUT("entry-truncated-header", M_TRUNC_HEADER),
	MUT("entry-bad-flags", M_BAD_FLAGS),
	MUT("entry-bad-invflags", M_BAD_INVFLAGS),
	MUT("entry-target-offset-small", M_TO_SMALL),
	MUT("entry-target-offset-no-room", M_TO_NO_ROOM),
	CUSTOM("standard-target-bad-size", build_std_size),
	MUT("standard-target-size-small", M_STD_TGSIZE_SMALL),
	MUT("verdict-0", M_VERDICT_0),
	MUT("verdict-minus3", M_VERDICT_M3),
	MUT("verdict-minus6", M_VERDICT_M6),
	MUT("verdict-queue", M_QUEUE_RULE),
	CUSTOM("error-target-bad-size", build_err_size),
	MUT("error-target-unterminated", M_ERR_UNTERM),
	CUSTOM("match-size-small", build_match_small),
	CUSTOM("match-overflows-target-offset", build_match_overflow),
	CUSTOM("match-gap-before-target", build_match_gap),
	CUSTOM("match-misaligned", build_match_misaligned),
	MUT("hook-entry-inside-entry", M_HOOK_INSIDE),
	MUT("underflow-inside-entry", M_UNDERFLOW_INSIDE),
	MUT("hook-entry-duplicate", M_HOOK_DUP),
	MUTF("hooks-unsorted", M_NONE, DEF_SWAP_IN_FWD),
	MUT("underflow-return", M_UF_RETURN),
	MUT("underflow-queue", M_UF_QUEUE),
	MUT("underflow-conditional", M_UF_COND),
	MUTF("underflow-with-match", M_NONE, DEF_POLICY_MATCH),
	MUT("num-entries-plus1", M_NENT_PLUS1),
	MUT("num-entries-minus1", M_NENT_MINUS1),
	MUT("loop-self", M_SELF_LOOP),
	MUT("loop-x-y-x", M_LOOP_XYX),
	MUT("jump-into-entry", M_JUMP_MIDDLE),
	MUT("jump-past-end", M_JUMP_PAST_END),
	MUT("user-chain-falls-off-end", M_FALL_OFF_END),
	CUSTOM("target-unknown", build_target_unknown),
	CUSTOM("match-unknown", build_match_unknown),
	CUSTOM("match-name-unterminated", build_match_unterminated),
	CUSTOM("tcp-valid", build_tcp_valid),
	CUSTOM("tcp-rev7", build_tcp_rev7),
	CUSTOM("tcp-bad-size", build_tcp_bad_size),
	CUSTOM("tcp-without-proto", build_tcp_no_proto),
	CUSTOM("tcp-inverted-proto", build_tcp_inv_proto),
	CUSTOM("tcp-bad-invflags", build_tcp_bad_invflags),
	CUSTOM("tcp-bad-size-then-unknown", build_tcp_then_unknown),
	/* accepted oddities */
	MUT("accept-jump-to-error-head", M_JUMP_ERROR_HEAD),
	MUT("accept-jump-into-other-base-chain", M_JUMP_OTHER_BASE),
	MUT("accept-return-in-base-chain", M_RETURN_BASE_COND),
	MUT("accept-unconditional-return-in-base-chain", M_RETURN_BASE_UNCOND),
	MUT("accept-goto", M_GOTO),
	MUT("accept-no-error-tail", M_NO_ERROR_TAIL),
	MUT("accept-unreferenced-chain-without-return", M_UNREF_NO_RETURN),
	MUT("accept-garbage-counters", M_GARBAGE_COUNTERS),
	/* GET_INFO */
	{.name = "getinfo-valid", .kind = K_INFO, .str = TABLE},
	{.name = "getinfo-len-83", .kind = K_INFO_LEN, .a = 83},
	{.name = "getinfo-len-88", .kind = K_INFO_LEN, .a = 88},
	{.name = "getinfo-unknown-table", .kind = K_INFO, .str = NOSUCH_NAME},
	/* GET_ENTRIES */
	{.name = "getentries-valid", .kind = K_ENTRIES, .str = TABLE},
	{.name = "getentries-len-short", .kind = K_ENTRIES, .str = TABLE, .a = 0, .b = -1000000},
	{.name = "getentries-len-plus1", .kind = K_ENTRIES, .str = TABLE, .a = 0, .b = 1},
	{.name = "getentries-len-minus8", .kind = K_ENTRIES, .str = TABLE, .a = 0, .b = -8},
	{.name = "getentries-stale-size", .kind = K_ENTRIES, .str = TABLE, .a = 8, .b = 0},
	{.name = "getentries-unknown-table", .kind = K_ENTRIES, .str = NOSUCH_NAME},
	/* SET_ADD_COUNTERS */
	{.name = "addcounters-valid", .kind = K_COUNTERS, .str = TABLE},
	{.name = "addcounters-len-plus1", .kind = K_COUNTERS, .str = TABLE, .a = 0, .b = 1},
	{.name = "addcounters-len-header-only",
	 .kind = K_COUNTERS,
	 .str = TABLE,
	 .a = 0,
	 .b = -1000000},
	{.name = "addcounters-num-plus1", .kind = K_COUNTERS, .str = TABLE, .a = 1},
	{.name = "addcounters-num-minus1", .kind = K_COUNTERS, .str = TABLE, .a = -1},
	{.name = "addcounters-unknown-table", .kind = K_COUNTERS, .str = NOSUCH_NAME},
	/* GET_REVISION */
	{.name = "revision-len-29", .kind = K_REV_M, .str = "tcp", .a = 0, .b = 29},
	{.name = "revision-len-31", .kind = K_REV_M, .str = "tcp", .a = 0, .b = 31},
	{.name = "revision-match-tcp-0", .kind = K_REV_M, .str = "tcp", .a = 0, .b = 30},
	{.name = "revision-match-tcp-1", .kind = K_REV_M, .str = "tcp", .a = 1, .b = 30},
	{.name = "revision-match-unknown", .kind = K_REV_M, .str = NOSUCH_NAME, .a = 0, .b = 30},
	{.name = "revision-target-tcp", .kind = K_REV_T, .str = "tcp", .a = 0, .b = 30},
	{.name = "revision-target-standard-0", .kind = K_REV_T, .str = "", .a = 0, .b = 30},
	{.name = "revision-target-error-0",
	 .kind = K_REV_T,
	 .str = XT_ERROR_TARGET,
	 .a = 0,
	 .b = 30},
	{.name = "revision-target-unknown", .kind = K_REV_T, .str = NOSUCH_NAME, .a = 0, .b = 30},
};

static void run_case(const struct xcase *x)
{
	struct def_opts o = {.flags = x->def_flags};
	socklen_t len;

	switch (x->kind) {
	case K_MUT:
		case_mut(x->name, x->mut, &o);
		break;
	case K_CUSTOM:
		case_custom(x->name, x->build);
		break;
	case K_INFO_LEN:
		case_info_len(x->name, (socklen_t)x->a);
		break;
	case K_INFO:
		case_info(x->name, x->str);
		break;
	case K_ENTRIES:
		/* a "short" length means below the 40-byte header */
		if (x->b == -1000000) {
			uint8_t buf[64] = {0};

			len = sizeof(struct ipt_get_entries) - 1;
			snprintf((char *)buf, XT_TABLE_MAXNAMELEN, "%s", x->str);
			printf("%s: %s\n", x->name, errname(xget(IPT_SO_GET_ENTRIES, buf, &len)));
			break;
		}
		case_entries(x->name, x->str, x->a, x->b);
		break;
	case K_COUNTERS:
		if (x->b == -1000000) {
			struct xt_counters_info ci = {0};

			snprintf(ci.name, sizeof(ci.name), "%s", x->str);
			printf("%s: %s\n", x->name,
			       errname(xset(IPT_SO_SET_ADD_COUNTERS, &ci, sizeof(ci))));
			break;
		}
		case_counters(x->name, x->str, x->a, x->b);
		break;
	case K_REV_M:
		case_revision(x->name, IPT_SO_GET_REVISION_MATCH, x->str, (uint8_t)x->a,
			      (socklen_t)x->b);
		break;
	case K_REV_T:
		case_revision(x->name, IPT_SO_GET_REVISION_TARGET, x->str, (uint8_t)x->a,
			      (socklen_t)x->b);
		break;
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned int ncases = BF_ARRAY_SIZE(cases);
	int rc = 0;

	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (unsigned int i = 0; i < ncases; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	/* As libiptc opens it. */
	sock_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (sock_fd < 0) {
		fprintf(stderr, "xtblob: socket: %s\n", strerror(errno));
		return 1;
	}
	if (argc == 1) {
		for (unsigned int i = 0; i < ncases; i++)
			run_case(&cases[i]);
	}
	for (int a = 1; a < argc; a++) {
		unsigned int i;

		for (i = 0; i < ncases; i++) {
			if (!strcmp(argv[a], cases[i].name))
				break;
		}
		if (i == ncases) {
			fprintf(stderr, "xtblob: unknown case %s (see --list)\n", argv[a]);
			rc = 2;
			continue;
		}
		run_case(&cases[i]);
	}
	close(sock_fd);
	return rc;
}
