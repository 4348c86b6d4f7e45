// SPDX-License-Identifier: GPL-2.0-only
/*
 * xtdump: print what IPT_SO_GET_INFO and IPT_SO_GET_ENTRIES answer for one IPv4 table, as text a
 * diff can compare: the info fields, then every entry's header fields and a hexdump of its bytes.
 * Run it under the kernel in a scratch namespace and against bpfilterd (with the preload shim) to
 * compare the two blobs byte for byte; nothing here knows the expected answer.
 *
 * Usage: xtdump [-t TABLE] [-z]    ask whatever answers IPT_SO_* in this namespace
 *        xtdump -f FILE [-z]       format a saved answer: struct ipt_getinfo, then the entries
 *        -z: print counters as 0 (packets the kernel counted in the namespace are not the point)
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include "bpfilter/cleanup.h"

static int fetch(const char *table, struct ipt_getinfo *info, uint8_t **entries)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	struct ipt_get_entries *get;
	socklen_t len = sizeof(*info);

	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", table);
	if (getsockopt(fd, SOL_IP, IPT_SO_GET_INFO, info, &len))
		return -errno;
	/* calloc: bytes the answer does not write stay 0 on both sides */
	len = sizeof(*get) + info->size;
	get = calloc(1, len);
	if (!get)
		return -ENOMEM;
	snprintf(get->name, sizeof(get->name), "%s", table);
	get->size = info->size;
	if (getsockopt(fd, SOL_IP, IPT_SO_GET_ENTRIES, get, &len)) {
		int err = -errno;

		free(get);
		return err;
	}
	*entries = malloc(info->size ? info->size : 1);
	if (!*entries) {
		free(get);
		return -ENOMEM;
	}
	memcpy(*entries, get->entrytable, info->size);
	free(get);
	return 0;
}

static int load(const char *path, struct ipt_getinfo *info, uint8_t **entries)
{
	_cleanup_fclose_ FILE *f = fopen(path, "rb");

	if (!f)
		return -errno;
	if (fread(info, sizeof(*info), 1, f) != 1)
		return -EIO;
	*entries = malloc(info->size ? info->size : 1);
	if (!*entries)
		return -ENOMEM;
	if (info->size && fread(*entries, info->size, 1, f) != 1) {
		free(*entries);
		return -EIO;
	}
	return 0;
}

static void hexdump(const uint8_t *p, uint32_t len, uint32_t base)
{
	for (uint32_t i = 0; i < len; i += 16) {
		printf("  %06x:", base + i);
		for (uint32_t j = i; j < i + 16 && j < len; j++)
			printf(" %02x", p[j]);
		printf("\n");
	}
}

static void print(const struct ipt_getinfo *info, uint8_t *entries, bool zero)
{
	uint32_t pos = 0, n = 0;

	printf("name=%.*s valid_hooks=%#x num_entries=%u size=%u\n", (int)sizeof(info->name),
	       info->name, info->valid_hooks, info->num_entries, info->size);
	for (int h = 0; h < NF_INET_NUMHOOKS; h++)
		printf("hook %d: entry=%#x underflow=%#x\n", h, info->hook_entry[h],
		       info->underflow[h]);
	while (pos + sizeof(struct ipt_entry) <= info->size) {
		struct ipt_entry *e = (void *)(entries + pos);

		if (zero)
			e->counters = (struct xt_counters){0};
		printf("entry %u @%#x: target_offset=%u next_offset=%u comefrom=%#x "
		       "counters=%llu/%llu\n",
		       n++, pos, e->target_offset, e->next_offset, e->comefrom,
		       (unsigned long long)e->counters.pcnt, (unsigned long long)e->counters.bcnt);
		if (e->next_offset < sizeof(*e) || pos + e->next_offset > info->size) {
			printf("  bad next_offset\n");
			hexdump(entries + pos, info->size - pos, pos);
			return;
		}
		hexdump(entries + pos, e->next_offset, pos);
		pos += e->next_offset;
	}
}

int main(int argc, char **argv)
{
	const char *table = "filter", *file = NULL;
	struct ipt_getinfo info;
	uint8_t *entries = NULL;
	bool zero = false;
	int c, err;

	while ((c = getopt(argc, argv, "t:f:z")) != -1) {
		switch (c) {
		case 't':
			table = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'z':
			zero = true;
			break;
		default:
			fprintf(stderr, "usage: xtdump [-t TABLE | -f FILE] [-z]\n");
			return 2;
		}
	}
	err = file ? load(file, &info, &entries) : fetch(table, &info, &entries);
	if (err) {
		fprintf(stderr, "xtdump: %s: %s\n", file ? file : table, strerror(-err));
		return 1;
	}
	print(&info, entries, zero);
	free(entries);
	return 0;
}
