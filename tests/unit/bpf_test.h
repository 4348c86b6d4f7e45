/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for code-generator tests: rule models built in C (laid out like an iptables filter
 * blob: base chains, user chains behind ERROR heads, the ERROR tail), Ethernet + IPv4 frames with
 * valid checksums, and BPF_PROG_TEST_RUN.
 */
#ifndef BF_TEST_BPF_TEST_H
#define BF_TEST_BPF_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "codegen/codegen.h"
#include "codegen/model.h"

#define BT_MAX_ENTRIES 8192
#define BT_MAX_CHAINS 128

struct bt_model {
	struct bf_table_model m;
	struct bf_entry e[BT_MAX_ENTRIES];
	union bf_entry_ip ip[BT_MAX_ENTRIES]; /* e[i].ip points at ip[i] */
	struct bf_chain c[BT_MAX_CHAINS];
	char names[BT_MAX_CHAINS][32];
};

void bt_init(struct bt_model *t);
/* Start base chain `hook` at the next entry. */
void bt_base(struct bt_model *t, unsigned int hook);
/* Add the policy of base chain `hook` (ACCEPT or DROP): its underflow. */
uint32_t bt_policy(struct bt_model *t, unsigned int hook, enum bf_target_kind verdict);
/* Start a user chain: its ERROR head; returns the index of its first rule. */
uint32_t bt_chain(struct bt_model *t, const char *name);
/* Add a rule with a wildcard IP part; `jump` for JUMP/GOTO. */
uint32_t bt_rule(struct bt_model *t, enum bf_target_kind kind, uint32_t jump);
/* Restrict entry i to a source address (-s a.b.c.d/32). */
void bt_src(struct bt_model *t, uint32_t i, const char *saddr);
/* Add the ERROR tail; set stacksize to the number of ERROR entries. */
void bt_end(struct bt_model *t);

/* Ethernet + IPv4 + UDP (8-byte header + payload) with a valid IP checksum; `pad` bytes of
 * trailing Ethernet padding. Returns the frame length. */
/* The Internet checksum of len bytes (RFC 1071), host order, as the header field wants it. */
uint16_t bt_csum(const uint8_t *p, unsigned int len);
uint32_t bt_udp(uint8_t *frame, const char *saddr, const char *daddr, uint16_t payload,
		uint16_t pad);
/* IP total length of a frame built above. */
uint32_t bt_ip_len(const uint8_t *frame);

/* BPF_PROG_TEST_RUN once: the program's return value, or -errno. */
int bt_run(int prog_fd, const uint8_t *frame, uint32_t len);

/* A log that keeps the last messages and counts warnings (tests inspect it). */
struct bt_log {
	struct bf_log log;
	unsigned int n_warn, n_err;
	char last_warn[512];
	char all[16384];
};
void bt_log_init(struct bt_log *l);

/* Open file descriptors of this process. */
int bt_count_fds(void);

#endif /* BF_TEST_BPF_TEST_H */
