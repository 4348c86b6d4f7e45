// SPDX-License-Identifier: GPL-2.0-only
/*
 * The comment match (net/netfilter/xt_comment.c): NFPROTO_UNSPEC, revision 0, matchsize
 * sizeof(struct xt_comment_info) (256), no usersize (the comment is copied back whole), no
 * checkentry, no restriction. comment_mt always matches, so nothing is emitted.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/xt_comment.h>

#include "../ext.h"

static int comment_emit(struct bf_emit_ctx *ctx, const void *data)
{
	return 0;
}

const struct bf_ext bf_match_comment = {
	.kind = BF_EXT_MATCH,
	.name = "comment",
	.revision = 0,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_comment_info),
	.emit = comment_emit,
};
