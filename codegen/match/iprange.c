// SPDX-License-Identifier: GPL-2.0-only
/*
 * The iprange match (net/netfilter/xt_iprange.c): revision 1, NFPROTO_IPV4 and NFPROTO_IPV6,
 * matchsize sizeof(struct xt_iprange_mtinfo), no checkentry (revision 0 is gone from the kernel).
 *
 * iprange_mt4/6: for IPRANGE_SRC then IPRANGE_DST, m = addr < min || addr > max (addresses
 * compared as big-endian numbers, IPv6 word by word), m ^= !!INV; m → no match. Flag bits other
 * than these four are ignored.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_iprange.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

/* Jump to `yes` if the address at bf_pkt+pkt_off (nw words) is below (lt) or above (!lt) c. */
static void emit_cmp(struct bf_builder *b, int16_t pkt_off, const uint32_t *c, unsigned int nw,
		     bool lt, bf_label yes)
{
	bf_label no = bf_label_new(b);

	for (unsigned int i = 0; i < nw; i++) {
		int32_t w = (int32_t)ntohl(c[i]);

		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(pkt_off + 4 * i)));
		bf_emit(b, BF_BE(BPF_REG_1, 32));
		bf_emit_jmp32_imm(b, lt ? BPF_JLT : BPF_JGT, BPF_REG_1, w, yes);
		if (i + 1 < nw)
			bf_emit_jmp32_imm(b, lt ? BPF_JGT : BPF_JLT, BPF_REG_1, w, no);
	}
	bf_label_bind(b, no);
}

static void emit_range(struct bf_emit_ctx *ctx, int16_t pkt_off, const union nf_inet_addr *min,
		       const union nf_inet_addr *max, bool inv)
{
	struct bf_builder *b = ctx->b;
	unsigned int nw = ctx->family == NFPROTO_IPV6 ? 4 : 1;
	bf_label out = inv ? bf_label_new(b) : ctx->miss;

	emit_cmp(b, pkt_off, min->all, nw, true, out);
	emit_cmp(b, pkt_off, max->all, nw, false, out);
	if (inv) {
		/* in range, inverted: no match */
		bf_emit_never(b, ctx->miss);
		bf_label_bind(b, out);
	}
}

static int iprange_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_iprange_mtinfo *info = data;
	struct bf_builder *b = ctx->b;

	if (info->flags & IPRANGE_SRC) {
		bf_comment(b, "iprange %ssrc", info->flags & IPRANGE_SRC_INV ? "! " : "");
		emit_range(ctx, BF_PKT_OFF(saddr), &info->src_min, &info->src_max,
			   info->flags & IPRANGE_SRC_INV);
	}
	if (info->flags & IPRANGE_DST) {
		bf_comment(b, "iprange %sdst", info->flags & IPRANGE_DST_INV ? "! " : "");
		emit_range(ctx, BF_PKT_OFF(daddr), &info->dst_min, &info->dst_max,
			   info->flags & IPRANGE_DST_INV);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_iprange = {
	.kind = BF_EXT_MATCH,
	.name = "iprange",
	.revision = 1,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_iprange_mtinfo),
	.emit = iprange_emit,
};

const struct bf_ext bf_match_iprange6 = {
	.kind = BF_EXT_MATCH,
	.name = "iprange",
	.revision = 1,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_iprange_mtinfo),
	.emit = iprange_emit,
};
