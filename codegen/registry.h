/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations of every extension module, one per file under codegen/match and codegen/target. */
#ifndef BF_REGISTRY_H
#define BF_REGISTRY_H

#include "ext.h"

extern const struct bf_ext bf_target_standard;
extern const struct bf_ext bf_target_error;

extern const struct bf_ext bf_match_tcp;
extern const struct bf_ext bf_match_tcp6;
extern const struct bf_ext bf_match_udp;
extern const struct bf_ext bf_match_udp6;
extern const struct bf_ext bf_match_icmp;
extern const struct bf_ext bf_match_comment;

#endif /* BF_REGISTRY_H */
