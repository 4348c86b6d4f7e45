// SPDX-License-Identifier: GPL-2.0-only
/* Capability dropping with capset/prctl (no libcap). */
#include "caps.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>

#include <bpfilter/cleanup.h>

#include "log.h"

#define BFD_CAP(c) (1ull << (c))

/*
 * Why each one stays (doc/design.md, "Privileges"; tests/e2e/privilege.sh checks the set):
 * - CAP_BPF: every replace loads programs and creates maps; pins are reopened.
 * - CAP_NET_ADMIN: TC/XDP attachment on interfaces that appear later; SCHED_CLS/XDP programs
 *   need it to load as well (bpf_net_capable).
 * - CAP_PERFMON: the verifier lets such a loader pass uninitialised stack to helpers
 *   (allow_uninit_stack); without it the generated programs are refused ("invalid read from
 *   stack" before bpf_skb_load_bytes, seen in tests/diff).
 * - CAP_SYS_PTRACE: the peer check reads /proc/PID/ns/{net,user} of callers whose permitted set
 *   exceeds ours (any root iptables), which the kernel allows only with it.
 */
static const struct {
	int cap;
	const char *name;
} bfd_cap_names[] = {
	{CAP_CHOWN, "cap_chown"},
	{CAP_DAC_OVERRIDE, "cap_dac_override"},
	{CAP_DAC_READ_SEARCH, "cap_dac_read_search"},
	{CAP_FOWNER, "cap_fowner"},
	{CAP_KILL, "cap_kill"},
	{CAP_SETPCAP, "cap_setpcap"},
	{CAP_NET_BIND_SERVICE, "cap_net_bind_service"},
	{CAP_NET_RAW, "cap_net_raw"},
	{CAP_NET_ADMIN, "cap_net_admin"},
	{CAP_IPC_LOCK, "cap_ipc_lock"},
	{CAP_SYS_PTRACE, "cap_sys_ptrace"},
	{CAP_SYS_ADMIN, "cap_sys_admin"},
	{CAP_SYS_RESOURCE, "cap_sys_resource"},
	{CAP_PERFMON, "cap_perfmon"},
	{CAP_BPF, "cap_bpf"},
};

uint64_t bfd_caps_runtime(void)
{
	return BFD_CAP(CAP_BPF) | BFD_CAP(CAP_NET_ADMIN) | BFD_CAP(CAP_PERFMON) |
	       BFD_CAP(CAP_SYS_PTRACE);
}

void bfd_caps_names(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (int c = 0; c < 64 && off < len; c++) {
		const char *name = NULL;
		int n;

		if (!(mask & BFD_CAP(c)))
			continue;
		for (size_t i = 0; i < BF_ARRAY_SIZE(bfd_cap_names); i++)
			if (bfd_cap_names[i].cap == c)
				name = bfd_cap_names[i].name;
		n = name ? snprintf(buf + off, len - off, "%s%s", off ? "," : "", name)
			 : snprintf(buf + off, len - off, "%scap_%d", off ? "," : "", c);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int bfd_cap_last(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last;

	if (!f || fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
		return CAP_LAST_CAP;
	return last;
}

static int bfd_capget(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*eff = data[0].effective | (uint64_t)data[1].effective << 32;
	*prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	return 0;
}

int bfd_caps_drop(uint64_t keep)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	uint64_t eff, prm;
	char names[256];
	int last = bfd_cap_last(), r;

	r = bfd_capget(&eff, &prm);
	if (r < 0)
		return r;
	if ((prm & keep) != keep) {
		bfd_caps_names(keep & ~prm, names, sizeof(names));
		bfd_warn("started without %s: some operations may fail", names);
	}
	keep &= prm;

	/* The bounding set first, while CAP_SETPCAP is still ours: what is dropped there cannot
	 * come back through an exec. A process without CAP_SETPCAP has nothing to drop there that
	 * it could use anyway (its permitted set is cut below). */
	if (prm & BFD_CAP(CAP_SETPCAP)) {
		for (int c = 0; c <= last; c++) {
			if (keep & BFD_CAP(c))
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
		}
		/* uid 0 gets no capability from an exec, and that cannot be undone. */
		if (prctl(PR_SET_SECUREBITS,
			  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
			  0, 0, 0) < 0)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;

	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;

	r = bfd_capget(&eff, &prm);
	if (r < 0)
		return r;
	if (eff != keep || prm != keep)
		return -EPERM;
	bfd_caps_names(keep, names, sizeof(names));
	bfd_info("capabilities dropped; keeping %s", keep ? names : "none");
	return 0;
}
