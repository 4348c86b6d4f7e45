/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations of every extension module, one per file under codegen/match and codegen/target. */
#ifndef BF_REGISTRY_H
#define BF_REGISTRY_H

#include "ext.h"

extern const struct bf_ext bf_target_standard;
extern const struct bf_ext bf_target_error;

/* Matches: add the extern here and the pointer to BF_REGISTRY_MATCHES. */
#define BF_REGISTRY_MATCHES

#endif /* BF_REGISTRY_H */
