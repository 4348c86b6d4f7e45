/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the table store: turn a blob that passed xt_translate_table into what the store
 * keeps, the blob as GET_ENTRIES returns it and the typed rule model (codegen/model.h).
 */
#ifndef BFD_XT_DECODE_H
#define BFD_XT_DECODE_H

#include "../codegen/model.h"
#include "xt_validate.h"

/*
 * Rewrite every match and target of a validated blob as the kernel's copy_entries_to_user writes
 * it (xt_match_to_user/xt_target_to_user): size, name up to its NUL, revision, then `usersize`
 * bytes of payload (all of it if usersize is 0) and zeroes up to XT_ALIGN(size). Bytes the kernel
 * does not write (the name after its NUL) become zero. 0 or -errno.
 */
int xt_normalize_blob(const struct xt_fam *f, void *entry0, uint32_t size);

/*
 * Decode a validated (and normalized) blob into a new model. The model's payload and name
 * pointers point into `entry0`, which must outlive it. 0 or -errno; *out untouched on failure.
 */
int xt_decode(const struct xt_fam *f, const char *name, uint32_t valid_hooks,
	      const struct xt_info *info, const void *entry0, struct bf_table_model **out);

#endif /* BFD_XT_DECODE_H */
