// SPDX-License-Identifier: GPL-2.0-only
#include "match_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfilter/cleanup.h>

#include "codegen/bpf_insn.h"
#include "codegen/builder.h"
#include "codegen/ipmatch.h"

static void mh_log_fn(void *ctx, enum bf_log_level level, const char *fmt, va_list ap)
{
	if (level > BF_LOG_WARN)
		return;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static const struct bf_log mh_log = {.fn = mh_log_fn};

static int ctx_map_fd = -1;

static int ctx_map(void)
{
	if (ctx_map_fd < 0) {
		ctx_map_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_ctx", sizeof(uint32_t),
					    sizeof(struct bf_pkt), 1, NULL);
		if (ctx_map_fd < 0)
			return -errno;
	}
	return ctx_map_fd;
}

static uint16_t csum16(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void mh_ipv4(struct mh_pkt *p, uint8_t proto, const char *saddr, const char *daddr,
	     uint16_t frag_off, const void *l4, uint32_t l4_len, uint32_t l4_buf_len)
{
	uint8_t *eth = p->frame, *ip = p->frame + MH_L2_LEN;
	uint16_t v;
	uint32_t a;

	memset(p, 0, sizeof(*p));
	if (l4_buf_len < l4_len)
		l4_buf_len = l4_len;
	if (MH_L2_LEN + 20 + l4_buf_len > MH_FRAME_MAX)
		abort();
	memset(eth, 0xaa, 6);
	memset(eth + 6, 0xbb, 6);
	eth[12] = 0x08;
	eth[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	v = htons((uint16_t)(20 + l4_len));
	memcpy(ip + 2, &v, 2);
	v = htons(0x1234);
	memcpy(ip + 4, &v, 2);
	v = htons(frag_off);
	memcpy(ip + 6, &v, 2);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, saddr, &a);
	memcpy(ip + 12, &a, 4);
	inet_pton(AF_INET, daddr, &a);
	memcpy(ip + 16, &a, 4);
	v = htons(csum16(ip, 20));
	memcpy(ip + 10, &v, 2);
	if (l4_buf_len)
		memcpy(ip + 20, l4, l4_buf_len);
	p->frame_len = MH_L2_LEN + 20 + l4_buf_len;
	mh_fill(p);
}

void mh_ipv6(struct mh_pkt *p, uint8_t nexthdr, const char *saddr, const char *daddr,
	     const void *data, uint32_t data_len, uint32_t data_buf_len)
{
	uint8_t *eth = p->frame, *ip = p->frame + MH_L2_LEN;
	uint16_t v;

	memset(p, 0, sizeof(*p));
	if (data_buf_len < data_len)
		data_buf_len = data_len;
	if (MH_L2_LEN + 40 + data_buf_len > MH_FRAME_MAX || data_len > UINT16_MAX)
		abort();
	memset(eth, 0xaa, 6);
	memset(eth + 6, 0xbb, 6);
	eth[12] = 0x86;
	eth[13] = 0xdd;
	ip[0] = 0x60;
	v = htons((uint16_t)data_len);
	memcpy(ip + 4, &v, 2);
	ip[6] = nexthdr;
	ip[7] = 64;
	if (inet_pton(AF_INET6, saddr, ip + 8) != 1 || inet_pton(AF_INET6, daddr, ip + 24) != 1)
		abort();
	if (data_buf_len)
		memcpy(ip + 40, data, data_buf_len);
	p->frame_len = MH_L2_LEN + 40 + data_buf_len;
	mh_fill(p);
}

static bool mh_x6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60;
}

/* The dispatcher's IPv6 half (codegen/dispatch.c, emit_ipv6_walk), in C: the same bounded walk
 * with the same truncation rules, so that a test shows what the matches make of its result. */
static void mh_fill6(struct mh_pkt *p)
{
	const uint8_t *ip = p->frame + MH_L2_LEN;
	struct bf_pkt *k = &p->pkt;
	uint32_t avail_frame = p->frame_len - MH_L2_LEN, off = 40, len;
	uint16_t plen;
	uint8_t nh = ip[6];
	int i;

	memset(k, 0, offsetof(struct bf_pkt, jstack));
	memcpy(&plen, ip + 4, 2);
	len = 40u + ntohs(plen);
	k->hook = NF_INET_LOCAL_IN;
	k->l3_off = MH_L2_LEN;
	k->len = len;
	memcpy(k->saddr, ip + 8, 16);
	memcpy(k->daddr, ip + 24, 16);
	k->ttl = ip[7];
	k->tos = (uint8_t)(((ip[0] << 8 | ip[1]) >> 4) & 0xff);
	for (i = 0; i < 8; i++) {
		const uint8_t *h = ip + off;
		uint32_t hlen;
		uint16_t *rec = NULL;

		if (!mh_x6_ext(nh))
			goto l4;
		if (off + 2 > len || off + 2 > avail_frame)
			goto trunc;
		if ((nh == 43 || nh == 44) && (len - off < 4 || off + 4 > avail_frame))
			goto trunc;
		if (nh == 0)
			rec = &k->x6_hbh;
		else if (nh == 60)
			rec = &k->x6_dst;
		else if (nh == 43)
			rec = &k->x6_rt;
		else if (nh == 44)
			rec = &k->x6_frag;
		if (rec && !*rec)
			*rec = (uint16_t)off;
		hlen = nh == 51 ? (h[1] + 2u) * 4 : (h[1] + 1u) * 8;
		if (nh == 44) {
			uint16_t fo = (uint16_t)(h[2] << 8 | h[3]);

			hlen = 8;
			k->frag_flags_h = (uint16_t)((fo & 1) << 13);
			if (fo & 0xfff8) {
				k->fragoff_h = (uint16_t)((fo & 0xfff8) >> 3);
				if (mh_x6_ext(h[0])) {
					k->flags |= BF_PKT_F_X6_NOPROTO;
					return;
				}
				k->proto = h[0];
				k->l4_off = MH_L2_LEN + off + 8;
				return;
			}
		}
		nh = h[0];
		off += hlen;
	}
trunc:
	k->flags |= BF_PKT_F_X6_TRUNC | BF_PKT_F_X6_NOPROTO;
	return;
l4:
	k->proto = nh;
	k->l4_off = MH_L2_LEN + off;
	if (len < off)
		return;
	k->l4_len = len - off;
	/* Transport fields from the bytes present in the frame, like the IPv4 part below. */
	{
		const uint8_t *l4 = ip + off;
		uint32_t avail = avail_frame > off ? avail_frame - off : 0;
		uint32_t need = nh == IPPROTO_TCP ? 20 : 8;

		if (nh != IPPROTO_TCP && nh != IPPROTO_UDP && nh != IPPROTO_UDPLITE &&
		    nh != IPPROTO_ICMPV6)
			return;
		if (k->l4_len < need || avail < need)
			return;
		if (nh == IPPROTO_ICMPV6) {
			k->icmp_type = l4[0];
			k->icmp_code = l4[1];
		} else {
			memcpy(&k->sport, l4, 2);
			memcpy(&k->dport, l4 + 2, 2);
		}
		if (nh == IPPROTO_TCP) {
			k->tcpdoff = (uint8_t)((l4[12] >> 4) * 4);
			k->tcpflags = l4[13];
		}
		k->flags |= BF_PKT_F_L4_OK;
	}
}

void mh_fill(struct mh_pkt *p)
{
	const uint8_t *ip = p->frame + MH_L2_LEN;
	struct bf_pkt *k = &p->pkt;
	uint32_t ihl = (ip[0] & 0x0f) * 4u;
	uint16_t tot, frag;
	const uint8_t *l4;
	uint32_t avail;

	if ((ip[0] >> 4) == 6) {
		mh_fill6(p);
		return;
	}
	k->hook = NF_INET_LOCAL_IN;
	k->l3_off = MH_L2_LEN;
	k->l4_off = MH_L2_LEN + ihl;
	memcpy(&tot, ip + 2, 2);
	tot = ntohs(tot);
	k->len = tot;
	k->l4_len = tot - ihl;
	memcpy(&k->saddr[0], ip + 12, 4);
	memcpy(&k->daddr[0], ip + 16, 4);
	k->proto = ip[9];
	k->ihl_opts = (uint8_t)(ihl - 20);
	memcpy(&frag, ip + 6, 2);
	frag = ntohs(frag);
	k->fragoff_h = frag & 0x1fff;
	k->frag_flags_h = frag & 0xe000;
	k->tos = ip[1];
	k->ttl = ip[8];
	k->sport = k->dport = 0;
	k->tcpflags = k->tcpdoff = k->icmp_type = k->icmp_code = 0;
	k->flags = 0;

	/* Fields from the bytes present in the buffer, whatever the IP length says. */
	l4 = p->frame + k->l4_off;
	avail = p->frame_len > k->l4_off ? p->frame_len - k->l4_off : 0;
	if (k->fragoff_h)
		return;
	if ((k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) && avail >= 4) {
		memcpy(&k->sport, l4, 2);
		memcpy(&k->dport, l4 + 2, 2);
	}
	if (k->proto == IPPROTO_TCP && avail >= 14) {
		k->tcpdoff = (uint8_t)((l4[12] >> 4) * 4);
		k->tcpflags = l4[13];
	}
	if (k->proto == IPPROTO_ICMP && avail >= 2) {
		k->icmp_type = l4[0];
		k->icmp_code = l4[1];
	}
	if ((k->proto == IPPROTO_TCP && k->l4_len >= 20) ||
	    (k->proto != IPPROTO_TCP && k->l4_len >= 8))
		k->flags |= BF_PKT_F_L4_OK;
}

void mh_set_macs(struct mh_pkt *p, const uint8_t *dst, const uint8_t *src)
{
	if (dst)
		memcpy(p->frame, dst, 6);
	if (src)
		memcpy(p->frame + 6, src, 6);
}

void mh_set_ifaces(struct mh_pkt *p, const char *in, const char *out)
{
	memset(p->pkt.iifname, 0, sizeof(p->pkt.iifname));
	memset(p->pkt.oifname, 0, sizeof(p->pkt.oifname));
	/* names of up to 16 bytes, NUL padded (not terminated when 16 long, like the kernel's) */
	if (in)
		memcpy(p->pkt.iifname, in, strnlen(in, sizeof(p->pkt.iifname)));
	if (out)
		memcpy(p->pkt.oifname, out, strnlen(out, sizeof(p->pkt.oifname)));
}

uint32_t mh_tcphdr(uint8_t *buf, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t doff_bytes,
		   const uint8_t *opts, uint32_t optlen)
{
	uint16_t v;

	memset(buf, 0, 20);
	v = htons(sport);
	memcpy(buf, &v, 2);
	v = htons(dport);
	memcpy(buf + 2, &v, 2);
	buf[12] = (uint8_t)((doff_bytes / 4) << 4);
	buf[13] = flags;
	buf[14] = 0xff;
	if (optlen)
		memcpy(buf + 20, opts, optlen);
	return 20 + optlen;
}

void mh_rule_init(struct mh_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->e.ip = &r->ip;
	r->e.matches = r->m;
}

void mh_rule_add(struct mh_rule *r, const struct bf_ext *ext, const void *data, uint16_t len)
{
	if (r->e.n_matches >= BF_ARRAY_SIZE(r->m))
		abort();
	r->m[r->e.n_matches++] = (struct bf_match){.ext = ext, .data = data, .data_len = len};
}

static void builder_freep(struct bf_builder **b)
{
	if (*b)
		bf_builder_free(*b);
}

static void emit_prologue(struct bf_builder *b, bf_label noctx, bf_label miss, bf_label hotdrop)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_6, BPF_REG_1));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CTX);
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, noctx);
	bf_emit(b, BF_MOV64_REG(BPF_REG_7, BPF_REG_0));
	/* Never taken (R7 is not NULL here): they keep the miss and hotdrop exits reachable for
	 * the verifier when the code under test has no path to them. */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_7, 0, miss);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_7, 0, hotdrop);
}

static void emit_ret(struct bf_builder *b, int v)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, v));
	bf_emit(b, BF_EXIT());
}

int mh_map_fds[BF_MAP_SLOT_MAX];

int mh_load(int family, enum bf_prog_ctx pctx, const struct mh_rule *r, bool with_ip, int *prog_fd,
	    size_t *n_insns)
{
	__attribute__((cleanup(builder_freep))) struct bf_builder *b = NULL;
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_free_ char *log = NULL;
	int map_fds[BF_MAP_SLOT_MAX];
	struct bf_emit_ctx ctx;
	bf_label miss, hotdrop, noctx;
	size_t n;
	int err, fd;

	err = bf_builder_new(&b, &mh_log);
	if (err)
		return err;
	miss = bf_label_new(b);
	hotdrop = bf_label_new(b);
	noctx = bf_label_new(b);
	ctx = (struct bf_emit_ctx){
		.b = b,
		.family = family,
		.prog_ctx = pctx,
		.entry = &r->e,
		.miss = miss,
		.hotdrop = hotdrop,
		.log = &mh_log,
	};

	emit_prologue(b, noctx, miss, hotdrop);
	if (with_ip) {
		err = bf_emit_ipmatch(&ctx, &r->e);
		if (err)
			return err;
	}
	for (uint32_t i = 0; i < r->e.n_matches; i++) {
		err = r->m[i].ext->emit(&ctx, r->m[i].data);
		if (err)
			return err;
	}
	emit_ret(b, MH_MATCH);
	bf_label_bind(b, miss);
	emit_ret(b, MH_MISS);
	bf_label_bind(b, hotdrop);
	emit_ret(b, MH_HOTDROP);
	bf_label_bind(b, noctx);
	emit_ret(b, MH_NOCTX);

	for (unsigned int i = 0; i < BF_MAP_SLOT_MAX; i++)
		map_fds[i] = mh_map_fds[i] ? mh_map_fds[i] : -1;
	map_fds[BF_MAP_CTX] = ctx_map();
	if (map_fds[BF_MAP_CTX] < 0)
		return map_fds[BF_MAP_CTX];
	err = bf_builder_finish(b, map_fds, &insns, &n);
	if (err)
		return err;

	fd = bpf_prog_load(pctx == BF_CTX_XDP ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS,
			   "bf_test", "GPL", insns, n, NULL);
	if (fd < 0) {
		const size_t log_size = 1 << 22;
		LIBBPF_OPTS(bpf_prog_load_opts, opts);

		err = -errno;
		log = calloc(1, log_size);
		if (log) {
			opts.log_buf = log;
			opts.log_size = log_size;
			opts.log_level = 1;
			fd = bpf_prog_load(pctx == BF_CTX_XDP ? BPF_PROG_TYPE_XDP
							      : BPF_PROG_TYPE_SCHED_CLS,
					   "bf_test", "GPL", insns, n, &opts);
			if (fd >= 0)
				close(fd);
			bf_builder_dump(b, &mh_log);
			fprintf(stderr, "verifier log (tail):\n%s\n",
				strlen(log) > 4000 ? log + strlen(log) - 4000 : log);
		}
		return err;
	}
	if (getenv("MH_STATS")) {
		/* Reload with stats to report verifier work (for tuning emitters). */
		const size_t log_size = 1 << 16;
		LIBBPF_OPTS(bpf_prog_load_opts, opts);
		char *l = calloc(1, log_size);

		if (l) {
			int f2;

			opts.log_buf = l;
			opts.log_size = log_size;
			opts.log_level = 4;
			f2 = bpf_prog_load(pctx == BF_CTX_XDP ? BPF_PROG_TYPE_XDP
							      : BPF_PROG_TYPE_SCHED_CLS,
					   "bf_test", "GPL", insns, n, &opts);
			if (f2 >= 0)
				close(f2);
			fprintf(stderr, "%zu insns: %s", n, l);
			free(l);
		}
	}
	*prog_fd = fd;
	if (n_insns)
		*n_insns = n;
	return 0;
}

int mh_exec(int prog_fd, enum bf_prog_ctx pctx, const struct mh_pkt *p)
{
	_cleanup_free_ uint8_t *vals = NULL;
	size_t vsz = (sizeof(struct bf_pkt) + 7) & ~(size_t)7;
	uint8_t out[MH_FRAME_MAX + 64];
	struct __sk_buff skb = {0};
	uint32_t key = 0;
	int ncpu, err;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, vsz);
	if (!vals)
		return -ENOMEM;
	/* Every possible CPU: whichever runs the test sees the packet context. */
	for (int i = 0; i < ncpu; i++)
		memcpy(vals + (size_t)i * vsz, &p->pkt, sizeof(p->pkt));
	if (bpf_map_update_elem(ctx_map(), &key, vals, BPF_ANY))
		return -errno;

	if (pctx == BF_CTX_TC && p->skb_mark) {
		skb.mark = p->skb_mark;
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	opts.data_in = p->frame;
	opts.data_size_in = p->frame_len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	return (int)opts.retval;
}

int mh_exec_udp(int prog_fd, const char *saddr, const char *daddr)
{
	static const uint8_t udp[8];
	struct mh_pkt p;

	if (strchr(saddr, ':'))
		mh_ipv6(&p, IPPROTO_UDP, saddr, daddr, udp, sizeof(udp), sizeof(udp));
	else
		mh_ipv4(&p, IPPROTO_UDP, saddr, daddr, 0, udp, sizeof(udp), sizeof(udp));
	return mh_exec(prog_fd, BF_CTX_TC, &p);
}

int mh_eval(int family, enum bf_prog_ctx pctx, const struct mh_rule *r, bool with_ip,
	    const struct mh_pkt *p)
{
	_cleanup_close_ int fd = -1;
	int err;

	err = mh_load(family, pctx, r, with_ip, &fd, NULL);
	if (err)
		return err;
	return mh_exec(fd, pctx, p);
}
