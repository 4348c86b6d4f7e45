// SPDX-License-Identifier: GPL-2.0-only
/* PLACEHOLDER until the datapath lands: no enforcement; bfd_datapath_new() fails with -ENOSYS so
 * that nothing can mistake this for a working datapath. */
#include <errno.h>

#include "datapath.h"

int bfd_datapath_new(const struct bfd_datapath_opts *opts, const struct bf_log *log,
		     struct bfd_datapath **out)
{
	return -ENOSYS;
}

void bfd_datapath_free(struct bfd_datapath *dp)
{
}

const struct xt_datapath *bfd_datapath_ops(struct bfd_datapath *dp)
{
	return NULL;
}

int bfd_datapath_fd(const struct bfd_datapath *dp)
{
	return -1;
}

int bfd_datapath_process(struct bfd_datapath *dp)
{
	return 0;
}
