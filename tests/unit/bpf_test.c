// SPDX-License-Identifier: GPL-2.0-only
#include "bpf_test.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/if_ether.h>

void bt_init(struct bt_model *t)
{
	memset(t, 0, sizeof(*t));
	t->m.family = NFPROTO_IPV4;
	strcpy(t->m.name, "filter");
	t->m.entries = t->e;
	t->m.chains = t->c;
}

static uint32_t add(struct bt_model *t, enum bf_target_kind kind, uint32_t jump)
{
	uint32_t i = t->m.n_entries++;
	struct bf_entry *e = &t->e[i];

	memset(e, 0, sizeof(*e));
	memset(&t->ip[i], 0, sizeof(t->ip[i]));
	e->ip = &t->ip[i];
	e->index = i;
	e->offset = i * 152;
	e->target.kind = kind;
	e->target.jump = jump;
	return i;
}

void bt_base(struct bt_model *t, unsigned int hook)
{
	t->m.valid_hooks |= 1u << hook;
	t->m.hook_entry[hook] = t->m.n_entries;
}

uint32_t bt_policy(struct bt_model *t, unsigned int hook, enum bf_target_kind verdict)
{
	uint32_t i = add(t, verdict, 0);

	t->m.underflow[hook] = i;
	return i;
}

uint32_t bt_chain(struct bt_model *t, const char *name)
{
	uint32_t k = t->m.n_chains++;
	uint32_t i = add(t, BF_TGT_ERROR, 0);

	snprintf(t->names[k], sizeof(t->names[k]), "%s", name);
	t->e[i].target.error_name = t->names[k];
	t->c[k] = (struct bf_chain){.name = t->names[k], .head = i, .first = i + 1};
	return i + 1;
}

uint32_t bt_rule(struct bt_model *t, enum bf_target_kind kind, uint32_t jump)
{
	return add(t, kind, jump);
}

void bt_src(struct bt_model *t, uint32_t i, const char *saddr)
{
	inet_pton(AF_INET, saddr, &t->ip[i].v4.src);
	t->ip[i].v4.smsk.s_addr = 0xffffffff;
}

void bt_end(struct bt_model *t)
{
	uint32_t i = add(t, BF_TGT_ERROR, 0);

	t->e[i].target.error_name = "ERROR";
	t->m.stacksize = 0;
	for (uint32_t k = 0; k < t->m.n_entries; k++)
		t->m.stacksize += t->e[k].target.kind == BF_TGT_ERROR;
}

uint16_t bt_csum(const uint8_t *p, unsigned int len)
{
	uint32_t s = 0;

	for (unsigned int i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint32_t bt_udp(uint8_t *f, const char *saddr, const char *daddr, uint16_t payload, uint16_t pad)
{
	uint8_t *ip = f + ETH_HLEN, *udp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + payload), c;
	uint32_t len = ETH_HLEN + tot + pad;

	memset(f, 0, len);
	memset(f, 0x02, 12);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, saddr, ip + 12);
	inet_pton(AF_INET, daddr, ip + 16);
	c = bt_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0x30;
	udp[1] = 0x39; /* 12345 */
	udp[2] = 0x00;
	udp[3] = 0x35; /* 53 */
	udp[4] = (uint8_t)((8 + payload) >> 8);
	udp[5] = (uint8_t)(8 + payload);
	return len;
}

uint32_t bt_ip_len(const uint8_t *f)
{
	return (uint32_t)(f[ETH_HLEN + 2] << 8 | f[ETH_HLEN + 3]);
}

int bt_run(int prog_fd, const uint8_t *frame, uint32_t len)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	return (int)o.retval;
}

static void log_fn(void *ctx, enum bf_log_level level, const char *fmt, va_list ap)
{
	struct bt_log *l = ctx;
	char buf[512];
	size_t n = strlen(l->all);

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (level == BF_LOG_WARN) {
		l->n_warn++;
		snprintf(l->last_warn, sizeof(l->last_warn), "%s", buf);
	}
	if (level == BF_LOG_ERR) {
		l->n_err++;
		fprintf(stderr, "codegen: %s\n", buf);
	}
	if (level <= BF_LOG_INFO || strstr(buf, "regions") || strstr(buf, "exact keys") ||
	    strstr(buf, "array of tries") || !strncmp(buf, "classify: run 0:", 16))
		snprintf(l->all + n, sizeof(l->all) - n, "%s\n", buf);
}

void bt_log_init(struct bt_log *l)
{
	memset(l, 0, sizeof(*l));
	l->log.fn = log_fn;
	l->log.ctx = l;
}

int bt_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}
