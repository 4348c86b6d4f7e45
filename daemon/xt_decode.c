// SPDX-License-Identifier: GPL-2.0-only
/*
 * From a blob that passed translate_table to what the store keeps: the blob as the kernel would
 * return it, and the typed rule model the code generator compiles (see doc/design.md, "The rule
 * model"). Nothing here rejects a blob the kernel accepts: every error is -ENOMEM or an internal
 * inconsistency (-EINVAL).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>

#include "bpfilter/cleanup.h"
#include "../codegen/ext.h"
#include "xt_decode.h"

/* xt_match_to_user/xt_target_to_user on one header in place. */
static int normalize_obj(const struct xt_fam *f, enum bf_ext_kind kind, struct xt_entry_match *m)
{
	const struct bf_ext *ext;
	size_t nlen, ulen, dlen = m->u.match_size - sizeof(*m);
	int err;

	err = bf_ext_find(kind, f->family, m->u.user.name, m->u.user.revision, &ext);
	if (err)
		return err;
	nlen = strlen(m->u.user.name) + 1;
	memset(m->u.user.name + nlen, 0, sizeof(m->u.user.name) - nlen);
	/* translate_table checked dlen == XT_ALIGN(ext->size). */
	ulen = ext->usersize ? ext->usersize : ext->size;
	if (ulen > dlen)
		return -EINVAL;
	memset(m->data + ulen, 0, dlen - ulen);
	return 0;
}

int xt_normalize_blob(const struct xt_fam *f, void *entry0, uint32_t size)
{
	char *base = entry0;
	int err;

	for (uint32_t pos = 0; pos < size; pos += xt_e_next_offset(f, base + pos)) {
		char *e = base + pos;
		uint32_t to = xt_e_target_offset(f, e);

		/* The kernel masks flags on the way out; translate_table refused others already. */
		e[f->off_flags] &= f->f_mask;
		for (uint32_t i = f->entry_size; i < to;) {
			struct xt_entry_match *m = (void *)(e + i);

			err = normalize_obj(f, BF_EXT_MATCH, m);
			if (err)
				return err;
			i += m->u.match_size;
		}
		err = normalize_obj(f, BF_EXT_TARGET, (void *)(e + to));
		if (err)
			return err;
	}
	return 0;
}

/* Index of the entry starting at byte `off`, or -1: offsets[] is sorted. */
static int64_t index_of(const uint32_t *offsets, uint32_t n, uint32_t off)
{
	uint32_t lo = 0, hi = n;

	while (hi > lo) {
		uint32_t m = lo + (hi - lo) / 2;

		if (offsets[m] > off)
			hi = m;
		else if (offsets[m] < off)
			lo = m + 1;
		else
			return m;
	}
	return -1;
}

static int decode_target(const struct xt_fam *f, const char *e, const uint32_t *offsets, uint32_t n,
			 struct bf_target *tgt)
{
	const struct xt_entry_target *t = xt_e_target(f, e);
	int64_t idx;
	int v;

	if (xt_is_error(t)) {
		tgt->kind = BF_TGT_ERROR;
		tgt->error_name = ((const struct xt_error_target *)t)->errorname;
		return 0;
	}
	if (!xt_is_standard(t)) {
		tgt->kind = BF_TGT_EXT;
		tgt->data = t->data;
		tgt->data_len = t->u.target_size - sizeof(*t);
		return bf_ext_find(BF_EXT_TARGET, f->family, t->u.user.name, t->u.user.revision,
				   &tgt->ext);
	}
	v = xt_std_verdict(t);
	switch (v) {
	case -NF_ACCEPT - 1:
		tgt->kind = BF_TGT_ACCEPT;
		return 0;
	case -NF_DROP - 1:
		tgt->kind = BF_TGT_DROP;
		return 0;
	case -NF_QUEUE - 1:
		tgt->kind = BF_TGT_QUEUE;
		return 0;
	case XT_RETURN:
		tgt->kind = BF_TGT_RETURN;
		return 0;
	}
	if (v < 0)
		return -EINVAL;
	idx = index_of(offsets, n, v);
	if (idx < 0) {
		/* mark_source_chains checks the jumps of every entry a hook reaches, so this entry
		 * is never reached (comefrom 0, and an underflow is never a jump): no packet can
		 * take the jump. It still needs a kind; DROP keeps the graph free of a dangling
		 * edge. */
		tgt->kind = BF_TGT_DROP;
		return 0;
	}
	tgt->kind = xt_e_flags(f, e) & f->f_goto ? BF_TGT_GOTO : BF_TGT_JUMP;
	tgt->jump = idx;
	return 0;
}

static int decode_entry(const struct xt_fam *f, const char *e, uint32_t pos, uint32_t index,
			const uint32_t *offsets, uint32_t n, struct bf_entry *out)
{
	uint32_t to = xt_e_target_offset(f, e), nm = 0, i;
	int err;

	out->index = index;
	out->offset = pos;
	out->comefrom = xt_e_comefrom(f, e);
	out->ip = (const void *)e; /* the entry starts with its ipt_ip/ip6t_ip6 */

	for (i = f->entry_size; i < to; nm++)
		i += ((const struct xt_entry_match *)(e + i))->u.match_size;
	if (nm) {
		out->matches = calloc(nm, sizeof(*out->matches));
		if (!out->matches)
			return -ENOMEM;
	}
	out->n_matches = nm;
	for (i = f->entry_size, nm = 0; i < to; nm++) {
		const struct xt_entry_match *m = (const void *)(e + i);
		struct bf_match *bm = &out->matches[nm];

		err = bf_ext_find(BF_EXT_MATCH, f->family, m->u.user.name, m->u.user.revision,
				  &bm->ext);
		if (err)
			return err;
		bm->data = m->data;
		bm->data_len = m->u.match_size - sizeof(*m);
		i += m->u.match_size;
	}
	return decode_target(f, e, offsets, n, &out->target);
}

/* User chains: every ERROR entry but the table's tail (the last entry, named "ERROR"). */
static int decode_chains(struct bf_table_model *m)
{
	uint32_t n = 0;

	for (uint32_t pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < m->n_entries; i++) {
			const struct bf_target *t = &m->entries[i].target;

			if (t->kind != BF_TGT_ERROR)
				continue;
			if (i == m->n_entries - 1 && !strcmp(t->error_name, XT_ERROR_TARGET))
				continue;
			if (pass)
				m->chains[m->n_chains++] = (struct bf_chain){
					.name = t->error_name,
					.head = i,
					.first = i + 1,
				};
			else
				n++;
		}
		if (!pass && n) {
			m->chains = calloc(n, sizeof(*m->chains));
			if (!m->chains)
				return -ENOMEM;
		}
	}
	return 0;
}

int xt_decode(const struct xt_fam *f, const char *name, uint32_t valid_hooks,
	      const struct xt_info *info, const void *entry0, struct bf_table_model **out)
{
	_cleanup_free_ uint32_t *offsets = NULL;
	struct bf_table_model *m;
	const char *base = entry0;
	uint32_t pos, i;
	int err;

	offsets = calloc(info->number ? info->number : 1, sizeof(*offsets));
	m = calloc(1, sizeof(*m));
	if (!offsets || !m) {
		free(m);
		return -ENOMEM;
	}
	m->family = f->family;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->valid_hooks = valid_hooks;
	m->stacksize = info->stacksize;
	m->n_entries = info->number;
	for (pos = 0, i = 0; pos < info->size && i < info->number;
	     pos += xt_e_next_offset(f, base + pos))
		offsets[i++] = pos;
	if (pos != info->size || i != info->number) {
		bf_table_model_free(m);
		return -EINVAL;
	}
	m->entries = calloc(info->number ? info->number : 1, sizeof(*m->entries));
	if (!m->entries) {
		bf_table_model_free(m);
		return -ENOMEM;
	}
	for (i = 0; i < info->number; i++) {
		err = decode_entry(f, base + offsets[i], offsets[i], i, offsets, info->number,
				   &m->entries[i]);
		if (err) {
			bf_table_model_free(m);
			return err;
		}
	}
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		int64_t e = -1, u = -1;

		if (valid_hooks & (1u << h)) {
			e = index_of(offsets, info->number, info->hook_entry[h]);
			u = index_of(offsets, info->number, info->underflow[h]);
			if (e < 0 || u < 0) {
				bf_table_model_free(m);
				return -EINVAL;
			}
		}
		m->hook_entry[h] = e < 0 ? UINT32_MAX : e;
		m->underflow[h] = u < 0 ? UINT32_MAX : u;
	}
	err = decode_chains(m);
	if (err) {
		bf_table_model_free(m);
		return err;
	}
	*out = m;
	return 0;
}
