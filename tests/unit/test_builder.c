// SPDX-License-Identifier: GPL-2.0-only
/* The program builder: labels, fixups, errors, comments; and one program through the kernel. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "codegen/bpf_insn.h"
#include "codegen/builder.h"

static int fds_all(int fds[BF_MAP_SLOT_MAX], int v)
{
	for (int i = 0; i < BF_MAP_SLOT_MAX; i++)
		fds[i] = v;
	return 0;
}

START_TEST(forward_and_backward)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	bf_label fwd, back;
	int fds[BF_MAP_SLOT_MAX];
	size_t n = 0;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	fwd = bf_label_new(b);
	back = bf_label_new(b);
	ck_assert_uint_ne(fwd.id, 0);
	ck_assert_uint_ne(fwd.id, back.id);
	bf_label_bind(b, back);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));			 /* 0 */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 7, fwd);		 /* 1 -> 4: off 2 */
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_1, back); /* 2 -> 0: off -3 */
	bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_0, 1, fwd);	 /* 3 -> 4: off 0 */
	bf_label_bind(b, fwd);
	bf_emit_ja(b, back); /* 4 -> 0: off -5 */
	bf_emit(b, BF_EXIT());
	ck_assert_int_eq(bf_builder_err(b), 0);
	ck_assert_uint_eq(bf_builder_len(b), 6);
	fds_all(fds, -1);
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(p[1].off, 2);
	ck_assert_int_eq(p[1].imm, 7);
	ck_assert_int_eq(p[1].code, BPF_JMP | BPF_JEQ | BPF_K);
	ck_assert_int_eq(p[2].off, -3);
	ck_assert_int_eq(p[2].code, BPF_JMP | BPF_JGT | BPF_X);
	ck_assert_int_eq(p[2].src_reg, BPF_REG_1);
	ck_assert_int_eq(p[3].off, 0);
	ck_assert_int_eq(p[3].code, BPF_JMP32 | BPF_JNE | BPF_K);
	ck_assert_int_eq(p[4].off, -5);
	ck_assert_int_eq(p[4].code, BPF_JMP | BPF_JA);
	free(p);
	bf_builder_free(b);
}
END_TEST

START_TEST(map_fixup)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	int fds[BF_MAP_SLOT_MAX];
	size_t n = 0;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_COUNTERS);
	bf_emit_ld_map(b, BPF_REG_2, BF_MAP_EXT0 + 3);
	bf_emit(b, BF_EXIT());
	fds_all(fds, -1);
	fds[BF_MAP_COUNTERS] = 42;
	/* A slot the program uses without an fd. */
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), -EBADF);
	ck_assert_ptr_null(p);
	fds[BF_MAP_EXT0 + 3] = 43;
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(p[0].code, BPF_LD | BPF_DW | BPF_IMM);
	ck_assert_int_eq(p[0].src_reg, BPF_PSEUDO_MAP_FD);
	ck_assert_int_eq(p[0].dst_reg, BPF_REG_1);
	ck_assert_int_eq(p[0].imm, 42);
	ck_assert_int_eq(p[1].imm, 0);
	ck_assert_int_eq(p[2].imm, 43);
	ck_assert_int_eq(p[2].dst_reg, BPF_REG_2);
	free(p);
	bf_builder_free(b);
}
END_TEST

/* A BPF-to-BPF call resolves to imm = target - (pc + 1), and the subprograms are listed. */
START_TEST(call_label_and_subprogs)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	uint32_t starts[2];
	bf_label sub;
	int fds[BF_MAP_SLOT_MAX];
	size_t n = 0;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	sub = bf_label_new(b);
	bf_emit_call_label(b, sub);		/* 0 -> 4: imm 3 */
	bf_emit_call_label(b, sub);		/* 1 -> 4: imm 2 */
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0)); /* 2 */
	bf_emit(b, BF_EXIT());			/* 3 */
	bf_label_bind(b, sub);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 1)); /* 4 */
	bf_emit(b, BF_EXIT());			/* 5 */
	ck_assert_int_eq(bf_builder_finish(b, (fds_all(fds, -1), fds), &p, &n), 0);
	ck_assert_uint_eq(p[0].code, BPF_JMP | BPF_CALL);
	ck_assert_uint_eq(p[0].src_reg, BPF_PSEUDO_CALL);
	ck_assert_int_eq(p[0].imm, 3);
	ck_assert_int_eq(p[1].imm, 2);
	ck_assert_uint_eq(bf_builder_subprogs(b, starts, 2), 1);
	ck_assert_uint_eq(starts[0], 4);
	free(p);
	bf_builder_free(b);
}
END_TEST

/* Maps loaded by fd are counted once each (the verifier's budget of maps per program). */
START_TEST(map_by_fd)
{
	struct bf_builder *b = NULL;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	bf_emit_ld_map_fd(b, BPF_REG_1, 7);
	bf_emit_ld_map_fd(b, BPF_REG_2, 9);
	bf_emit_ld_map_fd(b, BPF_REG_3, 7);
	ck_assert_uint_eq(bf_builder_n_map_fds(b), 2);
	ck_assert(bf_builder_has_map_fd(b, 9));
	ck_assert(!bf_builder_has_map_fd(b, 8));
	ck_assert_uint_eq(bf_builder_len(b), 6);
	ck_assert_int_eq(bf_builder_err(b), 0);
	bf_emit_ld_map_fd(b, BPF_REG_1, -1);
	ck_assert_int_eq(bf_builder_err(b), -EBADF);
	bf_builder_free(b);
}
END_TEST

START_TEST(unbound_label)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	int fds[BF_MAP_SLOT_MAX];
	size_t n = 0;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	bf_emit_ja(b, bf_label_new(b));
	bf_emit(b, BF_EXIT());
	fds_all(fds, -1);
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), -ENOENT);
	bf_builder_free(b);

	/* Bound past the last instruction: nothing to jump to. */
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	{
		bf_label l = bf_label_new(b);

		bf_emit_ja(b, l);
		bf_label_bind(b, l);
	}
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), -ENOENT);
	bf_builder_free(b);
}
END_TEST

START_TEST(sticky_error)
{
	struct bf_builder *b = NULL;
	bf_label l;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	l = bf_label_new(b);
	bf_label_bind(b, l);
	bf_emit(b, BF_EXIT());
	bf_label_bind(b, l); /* twice */
	ck_assert_int_eq(bf_builder_err(b), -EINVAL);
	bf_emit(b, BF_EXIT());
	ck_assert_uint_eq(bf_builder_len(b), 1);
	bf_builder_set_err(b, -ENOMEM); /* the first error stays */
	ck_assert_int_eq(bf_builder_err(b), -EINVAL);
	bf_builder_free(b);

	/* A jump to a label that was never created. */
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	bf_emit_ja(b, (bf_label){0});
	ck_assert_int_eq(bf_builder_err(b), -EINVAL);
	bf_builder_free(b);
}
END_TEST

START_TEST(offset_too_far)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	int fds[BF_MAP_SLOT_MAX];
	size_t n = 0;
	bf_label far, near;

	fds_all(fds, -1);
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	far = bf_label_new(b);
	near = bf_label_new(b);
	bf_emit_ja(b, near);
	bf_emit_ja(b, far);
	for (int i = 0; i < 32766; i++)
		bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_label_bind(b, near); /* insn 32768 */
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_label_bind(b, far); /* insn 32769 */
	bf_emit(b, BF_EXIT());
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), 0);
	ck_assert_int_eq(p[0].off, 32767); /* INT16_MAX: fits */
	ck_assert_int_eq(p[1].off, 32767);
	free(p);
	bf_builder_free(b);

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	far = bf_label_new(b);
	bf_emit_ja(b, far);
	for (int i = 0; i < 32768; i++)
		bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_label_bind(b, far); /* off 32768: does not fit, never truncated */
	bf_emit(b, BF_EXIT());
	p = NULL;
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), -E2BIG);
	ck_assert_ptr_null(p);
	bf_builder_free(b);
}
END_TEST

struct cap {
	unsigned int lines;
	char text[4096];
};

static void cap_fn(void *ctx, enum bf_log_level level, const char *fmt, va_list ap)
{
	struct cap *c = ctx;
	size_t n = strlen(c->text);

	c->lines++;
	vsnprintf(c->text + n, sizeof(c->text) - n, fmt, ap);
	n = strlen(c->text);
	if (n + 1 < sizeof(c->text))
		strcat(c->text, "\n");
}

START_TEST(comments_and_dump)
{
	struct cap c = {0};
	struct bf_log log = {.fn = cap_fn, .ctx = &c};
	struct bf_builder *b = NULL;
	bf_label l;

	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	l = bf_label_new(b);
	bf_comment(b, "r0 = %d", 2);
	bf_comment(b, "second");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 2));
	bf_emit_ja(b, l);
	bf_label_bind(b, l);
	bf_comment(b, "return r0");
	bf_emit(b, BF_EXIT());
	bf_builder_dump(b, &log);
	ck_assert_uint_eq(c.lines, 4); /* header + 3 instructions */
	ck_assert_ptr_nonnull(strstr(c.text, "r0 = 2; second"));
	ck_assert_ptr_nonnull(strstr(c.text, "-> 2"));
	ck_assert_ptr_nonnull(strstr(c.text, "return r0"));
	bf_builder_free(b);
}
END_TEST

START_TEST(kernel_accepts)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *p = NULL;
	int fds[BF_MAP_SLOT_MAX];
	uint8_t data[64] = {0};
	size_t n = 0;
	bf_label l;
	int map, prog, key = 0;
	long long val = 5;

	/* r0 = map[0] (an array holding 5) + 2 via a forward jump. */
	map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_test", 4, 8, 1, NULL);
	ck_assert_int_ge(map, 0);
	ck_assert_int_eq(bpf_map_update_elem(map, &key, &val, 0), 0);
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	l = bf_label_new(b);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, 0));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_EXT0);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, l);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 2));
	bf_label_bind(b, l);
	bf_emit(b, BF_EXIT());
	fds_all(fds, -1);
	fds[BF_MAP_EXT0] = map;
	ck_assert_int_eq(bf_builder_finish(b, fds, &p, &n), 0);
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "bf_test", "GPL", p, n, NULL);
	ck_assert_int_ge(prog, 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = sizeof(data),
			    .repeat = 1);

		ck_assert_int_eq(bpf_prog_test_run_opts(prog, &o), 0);
		ck_assert_uint_eq(o.retval, 7);
	}
	close(prog);
	close(map);
	free(p);
	bf_builder_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder");
	TCase *tc = tcase_create("builder");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, forward_and_backward);
	tcase_add_test(tc, map_fixup);
	tcase_add_test(tc, call_label_and_subprogs);
	tcase_add_test(tc, map_by_fd);
	tcase_add_test(tc, unbound_label);
	tcase_add_test(tc, sticky_error);
	tcase_add_test(tc, offset_too_far);
	tcase_add_test(tc, comments_and_dump);
	tcase_add_test(tc, kernel_accepts);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
