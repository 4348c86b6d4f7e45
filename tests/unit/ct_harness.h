/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What test_ct (IPv4) and test_ct6 (IPv6) share: a test namespace with a veth to receive on,
 * a runtime, an INPUT and an OUTPUT dispatcher (and optionally an XDP one) over a table whose
 * chains each test builds from conntrack rules, and a run that says which rule of a chain
 * counted a packet. The state a packet had is read from that rule.
 */
#ifndef BF_TEST_CT_HARNESS_H
#define BF_TEST_CT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
/* glibc's netinet/in.h (bpf_test.h) before the kernel's linux/in.h */
#include "bpf_test.h"
#include <linux/netfilter/xt_conntrack.h>

#include "codegen/codegen.h"

#define IN NF_INET_LOCAL_IN
#define OUT NF_INET_LOCAL_OUT

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define CT_MAX_RULES 8

struct ct_env {
	struct bt_log log;
	struct bf_runtime *rt;
	struct bf_gen *g;
	struct bt_model t;
	struct bf_match m[64];
	struct xt_conntrack_mtinfo3 info[2][CT_MAX_RULES]; /* per chain (INPUT, OUTPUT) */
	uint32_t first[2];				   /* first entry of INPUT, OUTPUT */
	int in, out;
	int xdp; /* the XDP dispatcher (INPUT) when loaded with one, else -1 */
	/* a veth in the test's namespace: packets "received" on lo are not tracked again */
	int ifindex;
	uint8_t f[512];
	uint32_t len;
};

/* A test's own namespace (each test runs in a process of its own: CK_FORK) with a veth, a
 * runtime and an empty model of `family`, ready for bt_base/bt_rule. */
struct ct_env *ct_env_new(uint8_t family);
/* End the model, load and activate it, load the INPUT/OUTPUT dispatchers (and XDP's). */
void ct_env_load(struct ct_env *v, const struct bf_gen_opts *go, bool xdp);
void ct_env_free(struct ct_env *v);

/* Run the frame in v->f through INPUT (`dir_in`, at XDP when loaded so) or OUTPUT, and return
 * which of the chain's first `n` rules counted it (exactly one must). The verdict must be a
 * drop exactly for the rules in `drop_mask` (bit i: rule i). */
int ct_run(struct ct_env *v, bool dir_in, int n, uint32_t drop_mask);

/* A TCP header into `l4` between the client (port 40000) and the server (port 80);
 * `dir_in`: client -> server. A window scale option when `wscale`. Returns its length. */
uint32_t ct_tcp_hdr(uint8_t *l4, bool dir_in, uint8_t flags, uint32_t seq, uint32_t ack,
		    uint16_t win, uint8_t wscale);

/* One's complement checksum of `len` bytes, starting from `sum`. */
uint16_t ct_csum16(const uint8_t *p, unsigned int len, uint32_t sum);

#endif /* BF_TEST_CT_HARNESS_H */
