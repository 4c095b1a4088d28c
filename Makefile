# eshm - shared-memory IPC: libeshm and its command-line filters.
# One non-recursive GNU Makefile. Users may add flags, not drop the warnings.

VERSION := 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
# the example programs, built and with their sources (not tools: not in BINDIR)
EXAMPLEDIR ?= $(DATADIR)/doc/eshm/examples
# where systemd looks for units of the local administrator (make install-systemd)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# run after installing into this system (DESTDIR empty) as root, so that the
# loader finds libeshm.so.0 in LIBDIR; LDCONFIG= skips it
LDCONFIG ?= ldconfig
PYTHONDIR ?= $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("purelib", vars={"base": "$(PREFIX)"}))' 2>/dev/null)

CC ?= cc
CFLAGS ?= -O2 -g
# Whole-library optimisation: libeshm is one file per concern, and its hot
# paths cross files (ring-read.c waits in wait.c). Without LTO the split
# measured a 64-byte round trip 0.80x and 64-byte throughput 0.87x the
# single ring.c it came from (6 code layouts each); with it, 1.00x and
# 0.99x. Fat objects: libeshm.a also links without LTO. LTO= turns it off.
LTO ?= -flto=auto -ffat-lto-objects
override CFLAGS += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -fPIC -pthread -MMD -MP
override CPPFLAGS += -D_GNU_SOURCE -Ilib
override LDFLAGS += -pthread

B := build
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
TOOLS := $(patsubst src/%.c,%,$(filter src/eshm-%.c,$(wildcard src/*.c)))
TOOL_BIN := $(TOOLS:%=$(B)/bin/%)
CLI_OBJ := $(B)/src/cli.o
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(B)/examples/%)
TEST_SRC := $(wildcard tests/lib/test-*.c)
TEST_BIN := $(TEST_SRC:tests/lib/%.c=$(B)/tests/%)
ASAN_LIB_OBJ := $(LIB_SRC:%.c=$(B)/asan/%.o)
ASAN_TEST_BIN := $(TEST_SRC:tests/lib/%.c=$(B)/asan/tests/%)
MANS := $(wildcard man/*.1 man/*.3 man/*.7)
UNITS := $(patsubst contrib/systemd/%.in,%,$(wildcard contrib/systemd/*.in))

.DELETE_ON_ERROR:
.PHONY: FORCE all check test-lib test-asan test-tsan test-fuzz fuzz stress test-bats interop lint format \
	bench install install-systemd uninstall clean demo

all: $(B)/libeshm.a $(B)/libeshm.so $(TOOL_BIN) $(EXAMPLE_BIN) $(B)/eshm.pc

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LTO) -c -o $@ $<

$(B)/libeshm.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# exports exactly what eshm.h declares (lib/libeshm.map; tests/05-library.bats checks)
$(B)/libeshm.so: $(LIB_OBJ) lib/libeshm.map
	$(CC) -shared -Wl,-soname,libeshm.so.0 -Wl,--version-script=lib/libeshm.map $(LDFLAGS) $(LTO) \
	  -o $@ $(LIB_OBJ)

# (objects first: a tool's extra objects, below, come after the library in $^)
$(B)/bin/%: $(B)/src/%.o $(CLI_OBJ) $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) -lm

# examples/: programs on the public API alone, each one file and libeshm.a
$(B)/examples/%: examples/%.c $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $< $(B)/libeshm.a

# the work runner of eshm-recv --exec
$(B)/bin/eshm-recv: $(B)/src/runner.o

# what -v says of the other holders of the channel
$(B)/bin/eshm-recv $(B)/bin/eshm-send: $(B)/src/peers.o

# rebuilt whenever the install directories change, so that
# `make install PREFIX=/usr` never installs a file naming /usr/local
$(B)/eshm.pc: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: eshm' 'Description: lossless shared-memory channels between processes' \
	  'Version: $(VERSION)' 'Libs: -L$${libdir} -leshm -pthread' 'Cflags: -I$${includedir}' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# C unit tests of the library
$(B)/tests/%: tests/lib/%.c tests/lib/t.h $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libeshm.a

# the same under AddressSanitizer and UndefinedBehaviorSanitizer
$(B)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) -c -o $@ $<

$(B)/asan/libeshm.a: $(ASAN_LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# the tools too, for the hostile-peer tests
ASAN_TOOL_BIN := $(TOOLS:%=$(B)/asan/bin/%)
$(B)/asan/bin/%: $(B)/asan/src/%.o $(B)/asan/src/cli.o $(B)/asan/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) -lm
$(B)/asan/bin/eshm-recv: $(B)/asan/src/runner.o
$(B)/asan/bin/eshm-recv $(B)/asan/bin/eshm-send: $(B)/asan/src/peers.o

$(B)/tests/soak-writer: tests/stress/soak-writer.c $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libeshm.a

# bench/taps.sh's steady writer
$(B)/bench/pace: bench/pace.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/tests/liveness: tests/stress/liveness.c $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libeshm.a

$(B)/tests/scribble: tests/hostile/scribble.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

$(B)/asan/tests/%: tests/lib/%.c tests/lib/t.h $(B)/asan/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $< $(B)/asan/libeshm.a

# the ring under ThreadSanitizer (clang: gcc 12's TSan lacks some atomics)
$(B)/tsan/test-ring-threads: tests/lib/ring-threads.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -Itests/lib -std=c11 -O1 -g -Wall -Wextra -Werror -pthread \
	  -fsanitize=thread -o $@ $< $(LIB_SRC)

# libFuzzer over a segment file: attach, inspect, read and write paths.
# make check replays the seeds and fuzzes for FUZZ_SECONDS; make fuzz longer.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(B)/fuzz/fuzz-segment: tests/fuzz/fuzz-segment.c tests/fuzz/fuzz-templates.h $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -std=c11 -O1 -g -Wall -Wextra -Werror -pthread $(FUZZ_FLAGS) \
	  -o $@ $< $(LIB_SRC)

$(B)/fuzz/mkseeds: tests/fuzz/mkseeds.c tests/fuzz/fuzz-templates.h $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libeshm.a

$(B)/fuzz/seeds/.made: $(B)/fuzz/mkseeds
	rm -rf $(@D) && mkdir -p $(@D)
	$< $(@D)
	touch $@

test-fuzz: $(B)/fuzz/fuzz-segment $(B)/fuzz/seeds/.made
	@mkdir -p $(B)/fuzz/corpus
	@echo "fuzzing for $(FUZZ_SECONDS) s (log: $(B)/fuzz/log)"
	@$< -max_len=16384 -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	  -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus $(B)/fuzz/seeds tests/fuzz/regressions \
	  >$(B)/fuzz/log 2>&1 || \
	  { tail -n 60 $(B)/fuzz/log; exit 1; }
	@grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' $(B)/fuzz/log

fuzz:
	$(MAKE) test-fuzz FUZZ_SECONDS=600

# the crash soak and the liveness measurements, long forms (make check runs
# short ones): STRESS_SECONDS of random SIGKILLs and SIGSTOPs
STRESS_SECONDS ?= 600
STRESS_TOOLS := $(B)/tests/soak-writer $(B)/tests/liveness
stress: all $(STRESS_TOOLS)
	bash tests/stress/soak.sh $(STRESS_SECONDS) $(CURDIR)/$(B)
	bash tests/stress/soak-groups.sh $(STRESS_SECONDS) $(CURDIR)/$(B)
	$(B)/tests/liveness 1000 30

test-lib: $(TEST_BIN)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

test-asan: $(ASAN_TEST_BIN)
	@set -e; for t in $^; do echo "== $$t (asan+ubsan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

test-tsan: $(B)/tsan/test-ring-threads
	TSAN_OPTIONS=halt_on_error=1 $< 10000000

# a C++ program on the library, for the interop tests: the header must
# build unchanged with a strict C++ compiler
CXX ?= c++
$(B)/tests/interop-peer: tests/interop/peer.cpp lib/eshm.h $(B)/libeshm.a
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Ilib -o $@ $< $(B)/libeshm.a -pthread

# (all builds the examples: tests/76-interop-demo.bats runs eshm-demo)
test-bats: all $(B)/tests/interop-peer $(B)/tests/scribble $(ASAN_TOOL_BIN) $(STRESS_TOOLS)
	PATH="$(CURDIR)/$(B)/bin:$$PATH" ESHM_BUILD="$(CURDIR)/$(B)" bats tests

# the original guide's interop tests 1-3: eshm-demo with the Python examples
interop: all
	PATH="$(CURDIR)/$(B)/bin:$$PATH" ESHM_BUILD="$(CURDIR)/$(B)" bats tests/76-interop-demo.bats

# C formatting follows .clang-format: make format fixes, make check checks
FORMAT_SRC := $(wildcard lib/*.c lib/*.h src/*.c src/*.h examples/*.c bench/*.c tests/lib/*.c \
	tests/lib/*.h tests/fuzz/*.c tests/stress/*.c tests/hostile/*.c tests/interop/*.cpp)
format:
	clang-format -i $(FORMAT_SRC)

lint:
	clang-format --dry-run --Werror $(FORMAT_SRC)
	mandoc -Tlint -W warning $(MANS)
	shellcheck -x .ci/run demo.sh bench/*.sh tests/*.bash tests/stress/*.sh completions/bash/*

check: all test-lib test-asan test-tsan test-fuzz lint test-bats

# A demo: a producer and a consumer started in the wrong order on a
# temporary segment, then what eshm-stat saw.
demo: all
	@sh demo.sh "$(B)/bin"

# eshm-bench against pipe, Unix socket and POSIX mq; an idle holder's CPU;
# then the filters on a 1 GiB file (made once, in the build folder) against
# cat | cat, a FIFO and socat
bench: all $(B)/bench/pace
	$(B)/bin/eshm-bench --compare
	@echo
	$(B)/bin/eshm-bench --compare --case throughput --sizes 64 --writers 4
	@echo
	$(B)/bin/eshm-bench --compare --case throughput --sizes 64 --readers 4
	@echo
	$(B)/bin/eshm-bench --case throughput --sizes 64 --readers 4 --groups 4
	@echo
	sh bench/format1.sh $(B)/bin/eshm-bench $(B)
	@echo
	$(B)/bin/eshm-bench --case idle
	@echo
	sh bench/pipeline.sh $(B)/bin $(B)/bench-1G
	@echo
	sh bench/taps.sh $(B)/bin $(B)/bench-1G
	@echo
	python3 python/examples/performance_test.py compare
	@echo
	python3 python/examples/performance_test.py roundtrip

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	  $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)/bash-completion/completions \
	  $(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d \
	  $(DESTDIR)$(EXAMPLEDIR)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/
	install -m 755 $(EXAMPLE_BIN) $(DESTDIR)$(EXAMPLEDIR)/
	install -m 644 $(EXAMPLE_SRC) $(DESTDIR)$(EXAMPLEDIR)/
	install -m 644 $(B)/libeshm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libeshm.so $(DESTDIR)$(LIBDIR)/libeshm.so.0
	ln -sf libeshm.so.0 $(DESTDIR)$(LIBDIR)/libeshm.so
	install -m 644 lib/eshm.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/eshm.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 $(filter %.1,$(MANS)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.3,$(MANS)) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(filter %.7,$(MANS)) $(DESTDIR)$(MANDIR)/man7/
	for c in completions/bash/*; do install -m 644 $$c $(DESTDIR)$(DATADIR)/bash-completion/completions/; done
	install -m 644 completions/zsh/_eshm $(DESTDIR)$(DATADIR)/zsh/site-functions/
	install -m 644 completions/fish/*.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/
	if [ -n "$(PYTHONDIR)" ]; then install -d $(DESTDIR)$(PYTHONDIR) && \
	  install -m 644 python/eshm.py $(DESTDIR)$(PYTHONDIR)/; fi
	$(if $(LDCONFIG),if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then $(LDCONFIG); fi)

# The systemd units, only when asked: contrib/systemd/*.in with the path
# of the tools put in. Not part of install, as not every host runs systemd.
install-systemd:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in $(UNITS); do \
	  sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/$$u.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%) $(DESTDIR)$(LIBDIR)/libeshm.a \
	  $(DESTDIR)$(LIBDIR)/libeshm.so $(DESTDIR)$(LIBDIR)/libeshm.so.0 \
	  $(DESTDIR)$(INCLUDEDIR)/eshm.h $(DESTDIR)$(LIBDIR)/pkgconfig/eshm.pc \
	  $(addprefix $(DESTDIR)$(EXAMPLEDIR)/,$(notdir $(EXAMPLE_BIN) $(EXAMPLE_SRC))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MANS)))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(filter %.3,$(MANS)))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(filter %.7,$(MANS)))) \
	  $(addprefix $(DESTDIR)$(DATADIR)/bash-completion/completions/,$(notdir $(wildcard completions/bash/*))) \
	  $(DESTDIR)$(DATADIR)/zsh/site-functions/_eshm \
	  $(addprefix $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/,$(notdir $(wildcard completions/fish/*.fish))) \
	  $(if $(PYTHONDIR),$(DESTDIR)$(PYTHONDIR)/eshm.py) \
	  $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS))

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
