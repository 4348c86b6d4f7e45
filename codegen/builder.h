/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Program builder: an instruction buffer with symbolic labels and typed fixups.
 *
 * Every jump names a label; every map reference names a map slot. Both are resolved in one pass by
 * bf_builder_finish(). A jump whose offset does not fit in 16 bits is an error (-E2BIG), never
 * truncated. Emitting never returns an error: the first failure is recorded (sticky) and every
 * later emit is a no-op; callers check bf_builder_err() once.
 *
 * Each instruction may carry a pseudo-C comment (bf_comment) for dumps (bpfilterd -v, tests).
 */
#ifndef BF_BUILDER_H
#define BF_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "log.h"

struct bf_builder;

typedef struct {
	uint32_t id; /* 0 is "no label" */
} bf_label;

/* Map slots a program can reference; the fd for each is supplied at bf_builder_finish(). */
enum bf_map_slot {
	BF_MAP_CTX, /* per-CPU struct bf_pkt */
	BF_MAP_COUNTERS, /* this generation's per-CPU counters */
	BF_MAP_PROGS, /* this generation's prog array (regions) */
	BF_MAP_ROOT, /* the shared root prog array */
	BF_MAP_IFNAME, /* ifindex -> name */
	BF_MAP_LROUTE, /* local route LPM trie */
	BF_MAP_ERRORS, /* this generation's error counters */
	BF_MAP_LROUTE6, /* IPv6 local route LPM trie */
	BF_MAP_CFG, /* ARRAY, 1 x struct bf_cfg (abi.h), read by direct value address */
	/* Maps of the extensions and of the tracker, all listed here so that no two share a
	 * slot. Owner and type in the comment; the map itself is made where it is owned. */
	BF_MAP_EXT0,
	BF_MAP_REJECT_PROGS = BF_MAP_EXT0, /* target/reject*.c: PROG_ARRAY, 2 slots (TC) */
	BF_MAP_LOG_RB, /* target/log.c: RINGBUF of bf_log_rec */
	BF_MAP_LOG_DROPS, /* target/log.c: PERCPU_ARRAY, 1 x u64 */
	BF_MAP_RTYPE, /* match/addrtype.c: IPv4 route types, LPM trie */
	BF_MAP_RTYPE6, /* match/addrtype.c: IPv6 route types, LPM trie */
	BF_MAP_XRULE, /* extstate.c: this generation's rule-instance state, HASH */
	BF_MAP_RECENT, /* extstate.c: recent's named tables, ARRAY */
	BF_MAP_HL, /* extstate.c: hashlimit's entries, HASH */
	BF_MAP_HL_TAB, /* extstate.c: hashlimit's tables, ARRAY */
	BF_MAP_CT, /* ct.c: connections, LRU_HASH */
	BF_MAP_CLASSIFY, /* classify.c: this generation's classifier tries */
	BF_MAP_CLASSIFY_EXACT, /* classify.c: HASH of the classes without prefix fields */
	BF_MAP_CLASSIFY_SHORT, /* classify.c: this generation's tries with short keys */
	BF_MAP_CLASSIFY_PORTS, /* classify.c: ARRAY of the exact classes of one port */
	BF_MAP_SLOT_MAX,
};

int bf_builder_new(struct bf_builder **out, const struct bf_log *log);
void bf_builder_free(struct bf_builder *b);

/* Sticky error: 0 or the first -errno recorded. */
int bf_builder_err(const struct bf_builder *b);
void bf_builder_set_err(struct bf_builder *b, int err);
size_t bf_builder_len(const struct bf_builder *b);

void bf_emit(struct bf_builder *b, struct bpf_insn insn);
/* Comment attached to the next emitted instruction (printf format). */
void bf_comment(struct bf_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bf_label bf_label_new(struct bf_builder *b);
/* Bind a label to the position of the next emitted instruction. Binding twice is an error. */
void bf_label_bind(struct bf_builder *b, bf_label l);

/* Conditional jumps: op is a BPF_JMP op (BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JSET, ...). */
void bf_emit_jmp_imm(struct bf_builder *b, uint8_t op, uint8_t dst, int32_t imm, bf_label to);
void bf_emit_jmp_reg(struct bf_builder *b, uint8_t op, uint8_t dst, uint8_t src, bf_label to);
/* 32-bit compare variants (BPF_JMP32). */
void bf_emit_jmp32_imm(struct bf_builder *b, uint8_t op, uint8_t dst, int32_t imm, bf_label to);
void bf_emit_ja(struct bf_builder *b, bf_label to);
/* reg = the map's fd (BPF_LD_IMM64 with BPF_PSEUDO_MAP_FD), fixed up at finish. */
/* A BPF-to-BPF call of the subprogram that starts at `to`: bound after the last instruction
 * of its caller's body, as the verifier requires. R1-R5 are its arguments, R6-R9 survive it. */
void bf_emit_call_label(struct bf_builder *b, bf_label to);
void bf_emit_ld_map(struct bf_builder *b, uint8_t reg, enum bf_map_slot slot);
/* reg = the map `fd` itself, outside the slots (the classifier's tries): the verifier takes
 * at most 64 maps per program, so callers count them with bf_builder_n_map_fds(). */
/* reg = the address of byte `off` of the value of the one-entry ARRAY in `slot`
 * (BPF_PSEUDO_MAP_VALUE: no lookup call). */
void bf_emit_ld_map_value(struct bf_builder *b, uint8_t reg, enum bf_map_slot slot, uint32_t off);
void bf_emit_ld_map_fd(struct bf_builder *b, uint8_t reg, int fd);
/* Count `fd` among the program's maps before any instruction loads it (a reservation). */
void bf_builder_use_map_fd(struct bf_builder *b, int fd);
bool bf_builder_has_map_fd(const struct bf_builder *b, int fd);
size_t bf_builder_n_map_fds(const struct bf_builder *b);

/*
 * Resolve labels and map fds. map_fds[slot] must be >= 0 for every slot the program used
 * (-EBADF otherwise). On success *insns (malloc'd, owned by the caller) and *n are set.
 */
int bf_builder_finish(struct bf_builder *b, const int map_fds[BF_MAP_SLOT_MAX],
		      struct bpf_insn **insns, size_t *n);

/* Dump the program with comments, one instruction a line, through the log at DEBUG. */
/* The first instructions of the subprograms the program calls (bf_emit_call_label), in order;
 * at most `max` written, the count returned. Valid after bf_builder_finish(). */
size_t bf_builder_subprogs(const struct bf_builder *b, uint32_t *starts, size_t max);
void bf_builder_dump(const struct bf_builder *b, const struct bf_log *log);

#endif /* BF_BUILDER_H */
