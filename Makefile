# SPDX-License-Identifier: GPL-2.0-only
# One non-recursive Makefile. Sources are found by directory, so adding an extension module
# (codegen/match/foo.c) or a unit test (tests/unit/test_foo.c) needs no change here; the explicit
# list of extensions lives in codegen/registry.c.

ifeq ($(wildcard config.mk),)
$(error run ./autogen.sh && ./configure first (or: make -f Makefile bootstrap))
endif
include config.mk

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wno-unused-parameter -Wformat=2 $(WERROR)
BASE_CFLAGS := -std=gnu11 -g -O2 -D_GNU_SOURCE -Iinclude -I. $(WARN) $(SANITIZE) $(CFLAGS)
BASE_LDFLAGS := $(SANITIZE) $(LDFLAGS)

CODEGEN_SRCS := $(sort $(wildcard codegen/*.c codegen/match/*.c codegen/target/*.c))
CODEGEN_OBJS := $(CODEGEN_SRCS:.c=.o)
DAEMON_SRCS := $(sort $(wildcard daemon/*.c))
DAEMON_LIB_OBJS := $(filter-out daemon/main.o,$(DAEMON_SRCS:.c=.o))
SHIM_SRCS := $(sort $(wildcard compat/iptables/*.c))
SHIM_OBJS := $(SHIM_SRCS:.c=.shim.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:.c=)
UNIT_HELPER_OBJS := $(patsubst %.c,%.o,$(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c)))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(TOOL_SRCS:.c=)

DAEMON_LIBS := $(LIBBPF_LIBS) $(LIBELF_LIBS) $(LIBMNL_LIBS)
CG_CFLAGS := $(LIBBPF_CFLAGS) $(LIBMNL_CFLAGS)

all: daemon/bpfilterd compat/iptables/libbpfilter-preload.so $(TOOL_BINS)

codegen/libbfcodegen.a: $(CODEGEN_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

daemon/libbfdaemon.a: $(DAEMON_LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

daemon/bpfilterd: daemon/main.o daemon/libbfdaemon.a codegen/libbfcodegen.a
	@echo "  LD      $@"
	$(Q)$(CC) $(BASE_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

%.o: %.c
	@echo "  CC      $@"
	$(Q)$(CC) $(BASE_CFLAGS) $(CG_CFLAGS) -MMD -MP -c -o $@ $<

# The shim is loaded into iptables: position independent, hidden by default, only the
# interposed symbols exported (shim.map). With --enable-sanitizers it is sanitized too: it then
# needs the ASan runtime preloaded before it (LD_PRELOAD="$$(gcc -print-file-name=libasan.so)
# shim.so", as .ci/run does), since iptables itself is not built with ASan.
SHIM_CFLAGS := -std=gnu11 -g -O2 -D_GNU_SOURCE -Iinclude -fPIC -fvisibility=hidden $(WARN) \
	$(SANITIZE) $(CFLAGS)
%.shim.o: %.c
	@echo "  CC      $@"
	$(Q)$(CC) $(SHIM_CFLAGS) -MMD -MP -c -o $@ $<

compat/iptables/libbpfilter-preload.so: $(SHIM_OBJS) compat/iptables/shim.map
	@echo "  LD      $@"
	$(Q)$(CC) -shared -o $@ $(SHIM_OBJS) -Wl,--version-script=compat/iptables/shim.map \
		-Wl,-z,defs -Wl,-z,now $(SANITIZE) $(LDFLAGS) -ldl

tests/unit/test_%: tests/unit/test_%.o $(UNIT_HELPER_OBJS) daemon/libbfdaemon.a codegen/libbfcodegen.a
	@echo "  LD      $@"
	$(Q)$(CC) $(BASE_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(DAEMON_LIBS)

tests/unit/%.o: BASE_CFLAGS += $(CHECK_CFLAGS)

tests/tools/%: tests/tools/%.o daemon/libbfdaemon.a codegen/libbfcodegen.a
	@echo "  LD      $@"
	$(Q)$(CC) $(BASE_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

# Unit tests (check): `make check-unit`. The whole suite: `make check` (tests/run, as root).
check-unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; CK_FORK=yes ./$$t; done

check: all $(UNIT_BINS)
	$(Q)tests/run

# Benchmarks against the kernel (prints a table of medians and ratios): see bench/README.md.
bench: all
	$(Q)bench/run

# libFuzzer harnesses (tests/fuzz/fuzz_*.c, clang): the codegen and daemon sources are rebuilt
# with coverage and ASan/UBSan under tests/fuzz/obj. `make fuzz` runs each harness for a bounded
# time (tests/fuzz/run --smoke, 30 s; FUZZ_ARGS="--long" for 10 million runs each). See tests/fuzz/README.md.
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Other files' clang-only warnings do not stop the fuzzers; the harnesses themselves use -Werror.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -I. $(filter-out -Werror,$(WARN)) \
	$(FUZZ_SAN) $(CG_CFLAGS)
# The harnesses run the store without a datapath: the datapath, attach and ifwatch sources are left
# out (tests/fuzz/fuzz_lib.c stands in for the two datapath calls server.c makes).
FUZZ_LIB_SRCS := $(CODEGEN_SRCS) $(filter-out daemon/main.c daemon/log.c daemon/datapath.c \
	daemon/attach.c daemon/ifwatch.c,$(DAEMON_SRCS))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %.c,%,$(filter-out tests/fuzz/fuzz_lib.c,$(FUZZ_SRCS)))
FUZZ_OBJ := tests/fuzz/obj

$(FUZZ_OBJ)/%.o: %.c
	@echo "  FUZZCC  $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter tests/fuzz/%,$<),$(WERROR)) \
		-fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_OBJ)/libfuzzlib.a: $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(FUZZ_LIB_SRCS) tests/fuzz/fuzz_lib.c)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

tests/fuzz/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)/libfuzzlib.a
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(DAEMON_LIBS)

# The LD_PRELOAD logger that captures seeds (tests/fuzz/seeds).
tests/fuzz/capture.so: tests/fuzz/capture.c
	@echo "  LD      $@"
	$(Q)$(CC) $(SHIM_CFLAGS) -shared -o $@ $< -ldl

fuzz-build: $(FUZZ_BINS) tests/fuzz/capture.so

fuzz: fuzz-build
	$(Q)tests/fuzz/run $(if $(FUZZ_ARGS),$(FUZZ_ARGS),--smoke)

install: all
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(libdir)/bpfilter $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(systemdsystemunitdir)
	install -m 0755 daemon/bpfilterd $(DESTDIR)$(sbindir)/bpfilterd
	install -m 0644 compat/iptables/libbpfilter-preload.so \
		$(DESTDIR)$(libdir)/bpfilter/libbpfilter-preload.so
	for w in compat/iptables/bpfilter-*.in; do \
		b=$$(basename $$w .in); \
		sed -e 's|@SHIM@|$(libdir)/bpfilter/libbpfilter-preload.so|g' -e 's|@SBINDIR@|$(sbindir)|g' \
			$$w > $(DESTDIR)$(sbindir)/$$b && chmod 0755 $(DESTDIR)$(sbindir)/$$b; \
	done
	for m in man/*.8; do install -m 0644 $$m $(DESTDIR)$(mandir)/man8/; done
	sed -e 's|@SBINDIR@|$(sbindir)|g' daemon/bpfilterd.service.in \
		> $(DESTDIR)$(systemdsystemunitdir)/bpfilterd.service

uninstall:
	rm -f $(DESTDIR)$(sbindir)/bpfilterd $(DESTDIR)$(sbindir)/bpfilter-*
	rm -rf $(DESTDIR)$(libdir)/bpfilter
	rm -f $(DESTDIR)$(mandir)/man8/bpfilterd.8 $(DESTDIR)$(mandir)/man8/bpfilter-*.8
	rm -f $(DESTDIR)$(systemdsystemunitdir)/bpfilterd.service

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -f $(CODEGEN_OBJS) $(DAEMON_SRCS:.c=.o) $(SHIM_OBJS) $(UNIT_BINS) tests/unit/*.o \
		$(TOOL_BINS) tests/tools/*.o codegen/libbfcodegen.a daemon/libbfdaemon.a \
		daemon/bpfilterd compat/iptables/libbpfilter-preload.so $(FUZZ_BINS) tests/fuzz/capture.so
	rm -rf $(FUZZ_OBJ)
	find . -name '*.d' -delete

.PHONY: all check check-unit bench install uninstall format clean fuzz fuzz-build
.SECONDARY:

-include $(shell find . -name '*.d' 2>/dev/null)
