// SPDX-License-Identifier: GPL-2.0-only
/*
 * bf_exts: print the extensions in codegen/registry.c, one per line: "match|target NAME REVISION
 * FAMILY" (FAMILY: where bpfilter enforces it). The acceptance tests use it to tell which rules of
 * a ruleset bpfilter must accept, so that list is never written by hand in a test.
 */
#include <stdio.h>

#include "codegen/ext.h"

int main(void)
{
	const struct bf_ext *e;

	for (unsigned int i = 0; (e = bf_ext_at(i)); i++)
		printf("%s %s %u %u\n", e->kind == BF_EXT_MATCH ? "match" : "target",
		       e->name[0] ? e->name : "(standard)", e->revision,
		       e->enforced_family ? e->enforced_family : e->family);
	return 0;
}
