/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations of every extension module, one per file under codegen/match and codegen/target. */
#ifndef BF_REGISTRY_H
#define BF_REGISTRY_H

#include "ext.h"

extern const struct bf_ext bf_target_standard;
extern const struct bf_ext bf_target_error;
extern const struct bf_ext bf_target_standard6;
extern const struct bf_ext bf_target_error6;
extern const struct bf_ext bf_target_reject;
extern const struct bf_ext bf_target_reject6;
extern const struct bf_ext bf_target_log;
extern const struct bf_ext bf_target_log6;

extern const struct bf_ext bf_match_tcp;
extern const struct bf_ext bf_match_tcp6;
extern const struct bf_ext bf_match_udp;
extern const struct bf_ext bf_match_udp6;
extern const struct bf_ext bf_match_icmp;
extern const struct bf_ext bf_match_comment;
extern const struct bf_ext bf_match_multiport;
extern const struct bf_ext bf_match_multiport6;
extern const struct bf_ext bf_match_mark;
extern const struct bf_ext bf_match_length;
extern const struct bf_ext bf_match_length6;
/* stateful (doc/stateful.md) */
extern const struct bf_ext bf_match_limit;
extern const struct bf_ext bf_match_recent0;
extern const struct bf_ext bf_match_recent1;
extern const struct bf_ext bf_match_recent0_6;
extern const struct bf_ext bf_match_recent1_6;
extern const struct bf_ext bf_match_hashlimit1;
extern const struct bf_ext bf_match_hashlimit2;
extern const struct bf_ext bf_match_hashlimit3;
extern const struct bf_ext bf_match_hashlimit1_6;
extern const struct bf_ext bf_match_hashlimit2_6;
extern const struct bf_ext bf_match_hashlimit3_6;
extern const struct bf_ext bf_match_ttl;
extern const struct bf_ext bf_match_hl;
extern const struct bf_ext bf_match_tos;
extern const struct bf_ext bf_match_tos6;
extern const struct bf_ext bf_match_dscp;
extern const struct bf_ext bf_match_dscp6;
extern const struct bf_ext bf_match_iprange;
extern const struct bf_ext bf_match_iprange6;
extern const struct bf_ext bf_match_pkttype;
extern const struct bf_ext bf_match_mac;
extern const struct bf_ext bf_match_tcpmss;
extern const struct bf_ext bf_match_tcpmss6;
/* IPv6 */
extern const struct bf_ext bf_match_icmp6;
extern const struct bf_ext bf_match_rt;
extern const struct bf_ext bf_match_frag;
extern const struct bf_ext bf_match_hbh;
extern const struct bf_ext bf_match_dst;
extern const struct bf_ext bf_match_ipv6header;

extern const struct bf_ext bf_match_conntrack1;
extern const struct bf_ext bf_match_conntrack2;
extern const struct bf_ext bf_match_conntrack3;
extern const struct bf_ext bf_match_state;
extern const struct bf_ext bf_match_addrtype;
extern const struct bf_ext bf_match_addrtype1;
extern const struct bf_ext bf_match_eui64;
extern const struct bf_ext bf_match_owner;

#endif /* BF_REGISTRY_H */
