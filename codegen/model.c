// SPDX-License-Identifier: GPL-2.0-only
/* The rule model's one owned resource is memory: the entries, their match arrays and the chains.
 * Payloads and names point into the blob kept by the table store and are not freed here. */
#include <stdlib.h>

#include "model.h"

/* Frees a model allocated by the daemon's decoder (xt_decode): its arrays and the struct itself.
 * NULL is fine. */
void bf_table_model_free(struct bf_table_model *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; m->entries && i < m->n_entries; i++)
		free(m->entries[i].matches);
	free(m->entries);
	free(m->chains);
	free(m);
}
