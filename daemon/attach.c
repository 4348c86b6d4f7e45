// SPDX-License-Identifier: GPL-2.0-only
/* TC (clsact, direct action) and XDP attachment of dispatcher programs to one interface. */
#include "attach.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfilter/cleanup.h>

static int prog_id_of_fd(int fd, uint32_t *id)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int r;

	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (r)
		return r < 0 ? r : -errno;
	*id = info.id;
	return 0;
}

/* A program bpfilter loaded: every program it loads is named "bf_...". */
static bool prog_id_is_ours(uint32_t id)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	_cleanup_close_ int fd = -1;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	return strncmp(info.name, "bf_", 3) == 0;
}

static int tc_attach_one(const struct bf_log *log, const char *ifname, uint32_t ifindex,
			 enum bpf_tc_attach_point point, int fd, uint32_t *prog_id)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	/* Replace: a filter at our handle and priority can only be a previous daemon's. */
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BFD_TC_HANDLE, .priority = BFD_TC_PRIORITY,
			    .prog_fd = fd, .flags = BPF_TC_F_REPLACE);
	int r;

	r = bpf_tc_attach(&hook, &opts);
	if (r) {
		if (r != -ENODEV)
			bf_logf(log, BF_LOG_ERR, "%s: attaching the TC %s dispatcher failed: %s",
				ifname, point == BPF_TC_INGRESS ? "ingress" : "egress",
				strerror(-r));
		return r;
	}
	*prog_id = opts.prog_id;
	return 0;
}

int bfd_attach_tc(const struct bf_log *log, const char *ifname, uint32_t ifindex, int ingress_fd,
		  int egress_fd, struct bfd_link_att *att)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int r;

	att->ifindex = ifindex;
	r = bpf_tc_hook_create(&hook);
	if (r == 0) {
		att->qdisc_created = true;
	} else if (r != -EEXIST) {
		if (r != -ENODEV)
			bf_logf(log, BF_LOG_ERR, "%s: creating the clsact qdisc failed: %s", ifname,
				strerror(-r));
		return r;
	}

	r = tc_attach_one(log, ifname, ifindex, BPF_TC_INGRESS, ingress_fd, &att->tc_in_prog_id);
	if (r)
		return r;
	return tc_attach_one(log, ifname, ifindex, BPF_TC_EGRESS, egress_fd, &att->tc_out_prog_id);
}

int bfd_attach_xdp(const struct bf_log *log, const char *ifname, uint32_t ifindex, int prog_fd,
		   struct bfd_link_att *att)
{
	static const uint32_t modes[] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
	int r = -EOPNOTSUPP;
	uint32_t id = 0;

	att->ifindex = ifindex;
	r = prog_id_of_fd(prog_fd, &id);
	if (r)
		return r;

	for (size_t i = 0; i < BF_ARRAY_SIZE(modes); i++) {
		DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
		DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
		_cleanup_close_ int old_fd = -1;
		uint32_t flags = modes[i] | XDP_FLAGS_UPDATE_IF_NOEXIST;
		uint32_t old_id;

		/* Only a program of a previous bpfilterd may be replaced, never someone else's. */
		r = bpf_xdp_query((int)ifindex, (int)modes[i], &q);
		if (r == -ENODEV)
			return r;
		old_id = modes[i] == XDP_FLAGS_DRV_MODE ? q.drv_prog_id : q.skb_prog_id;
		if (!r && old_id && prog_id_is_ours(old_id)) {
			old_fd = bpf_prog_get_fd_by_id(old_id);
			if (old_fd >= 0) {
				opts.old_prog_fd = old_fd;
				flags = modes[i];
			}
		}

		r = bpf_xdp_attach((int)ifindex, prog_fd, flags, &opts);
		if (r == 0) {
			att->xdp_prog_id = id;
			att->xdp_mode = modes[i];
			bf_logf(log, BF_LOG_DEBUG, "%s: XDP dispatcher attached in %s mode", ifname,
				modes[i] == XDP_FLAGS_DRV_MODE ? "native" : "generic");
			return 0;
		}
		if (r == -ENODEV)
			return r;
		bf_logf(log, BF_LOG_DEBUG, "%s: XDP %s mode not available: %s", ifname,
			modes[i] == XDP_FLAGS_DRV_MODE ? "native" : "generic", strerror(-r));
	}
	bf_logf(log, BF_LOG_ERR, "%s: attaching the XDP dispatcher failed: %s", ifname,
		strerror(-r));
	return r;
}

static void tc_detach_one(const struct bf_log *log, const char *ifname, uint32_t ifindex,
			  enum bpf_tc_attach_point point, uint32_t prog_id)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BFD_TC_HANDLE,
			    .priority = BFD_TC_PRIORITY);
	int r;

	/* Someone may have replaced our filter since: remove it only if it still runs our program.
	 */
	r = bpf_tc_query(&hook, &opts);
	if (r || opts.prog_id != prog_id)
		return;
	opts.prog_id = 0;
	opts.prog_fd = 0;
	opts.flags = 0;
	r = bpf_tc_detach(&hook, &opts);
	if (r && r != -ENODEV && r != -ENOENT)
		bf_logf(log, BF_LOG_WARN, "%s: detaching the TC %s dispatcher failed: %s", ifname,
			point == BPF_TC_INGRESS ? "ingress" : "egress", strerror(-r));
}

void bfd_detach(const struct bf_log *log, const char *ifname, struct bfd_link_att *att)
{
	int ifindex = (int)att->ifindex;
	int r;

	if (att->xdp_prog_id) {
		uint32_t cur = 0;

		r = bpf_xdp_query_id(ifindex, (int)att->xdp_mode, &cur);
		if (!r && cur == att->xdp_prog_id) {
			r = bpf_xdp_detach(ifindex, att->xdp_mode, NULL);
			if (r && r != -ENODEV)
				bf_logf(log, BF_LOG_WARN,
					"%s: detaching the XDP dispatcher failed: %s", ifname,
					strerror(-r));
		}
	}
	if (att->tc_in_prog_id)
		tc_detach_one(log, ifname, att->ifindex, BPF_TC_INGRESS, att->tc_in_prog_id);
	if (att->tc_out_prog_id)
		tc_detach_one(log, ifname, att->ifindex, BPF_TC_EGRESS, att->tc_out_prog_id);
	if (att->qdisc_created) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		r = bpf_tc_hook_destroy(&hook);
		if (r && r != -ENODEV && r != -ENOENT && r != -EINVAL)
			bf_logf(log, BF_LOG_WARN, "%s: deleting the clsact qdisc failed: %s",
				ifname, strerror(-r));
	}
	memset(att, 0, sizeof(*att));
}
