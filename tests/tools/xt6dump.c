// SPDX-License-Identifier: GPL-2.0-only
/*
 * xt6dump: what IP6T_SO_GET_INFO and IP6T_SO_GET_ENTRIES answer for one IPv6 table, as a hexdump
 * a diff can compare (16 bytes a line): the ip6t_getinfo reply, then the blob. Run under the
 * kernel in a scratch namespace and against bpfilterd (with the preload shim) to compare the two
 * byte for byte; nothing here knows the expected answer.
 *
 * Usage: xt6dump [-t TABLE] [-z]    -z: counters printed as 0
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "bpfilter/cleanup.h"

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		printf("%s %06zx:", what, i);
		for (size_t j = i; j < i + 16 && j < n; j++)
			printf(" %02x", p[j]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	_cleanup_close_ int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
	struct ip6t_getinfo info = {0};
	struct ip6t_get_entries *get;
	const char *table = "filter";
	socklen_t len = sizeof(info);
	bool zero = false;
	int opt;

	while ((opt = getopt(argc, argv, "t:z")) != -1) {
		if (opt == 't')
			table = optarg;
		else if (opt == 'z')
			zero = true;
		else
			return 2;
	}
	if (fd < 0 || strlen(table) >= sizeof(info.name)) {
		perror("socket");
		return 1;
	}
	strcpy(info.name, table);
	if (getsockopt(fd, SOL_IPV6, IP6T_SO_GET_INFO, &info, &len)) {
		printf("GET_INFO: %s\n", strerror(errno));
		return 1;
	}
	hexdump("info", (const uint8_t *)&info, sizeof(info));
	len = sizeof(*get) + info.size;
	get = calloc(1, len);
	if (!get)
		return 1;
	strcpy(get->name, table);
	get->size = info.size;
	if (getsockopt(fd, SOL_IPV6, IP6T_SO_GET_ENTRIES, get, &len)) {
		printf("GET_ENTRIES: %s\n", strerror(errno));
		free(get);
		return 1;
	}
	if (zero) {
		for (uint32_t pos = 0; pos + sizeof(struct ip6t_entry) <= info.size;) {
			struct ip6t_entry *e = (void *)((char *)get->entrytable + pos);

			memset(&e->counters, 0, sizeof(e->counters));
			if (!e->next_offset)
				break;
			pos += e->next_offset;
		}
	}
	hexdump("blob", (const uint8_t *)get->entrytable, info.size);
	free(get);
	return 0;
}
