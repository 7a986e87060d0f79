# netinv: plain GNU Makefile with pkg-config. `make`, `make test`, `make san`, `make bench`,
# `make valgrind`, `make fuzz`, `make install DESTDIR=... PREFIX=...`.

VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
BUILD ?= build
PKG_CONFIG ?= pkg-config

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wformat=2 -Wno-missing-field-initializers -fno-strict-aliasing -fstack-protector-strong \
	  -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP
LDFLAGS += -pie -Wl,-z,relro,-z,now


ifeq ($(SAN),1)
CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS)) -O1 -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

PKGS := libmnl libnl-3.0 libnl-route-3.0 zlib libcjson
# libcurl: headers at build time, the library loaded (dlopen) only when a run talks to the server
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) libcurl)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS)) -ldl
CFLAGS += $(DEP_CFLAGS) -DNETINV_VERSION='"$(VERSION)"' -DNETINV_HTTP_VERSION='"$(VERSION)"' \
	  -DLIBMNL_BUILD_VERSION='"$(shell $(PKG_CONFIG) --modversion libmnl)"'

LIB_SRCS := netlink/nl.c netlink/attr.c netlink/link.c netlink/linkinfo.c netlink/addr.c netlink/neigh.c \
	    netlink/route.c netlink/rule.c netlink/nexthop.c netlink/sockdiag.c netlink/procmap.c netlink/collect.c \
	    delta/snapshot.c delta/canon.c delta/hash.c delta/diff.c delta/persist.c delta/crc32c.c delta/reconcile.c \
	    report/json.c report/names.c report/report.c report/gzip.c \
	    report/http.c report/proto.c report/skim.c
APP_SRCS := collector/main.c collector/cli.c collector/log.c collector/util.c collector/harvest.c \
	    collector/dryrun.c collector/agent.c collector/checkin.c collector/operator.c \
	    collector/state.c collector/state_acked.c collector/config.c collector/exec/cmdlog.c collector/exec/dispatch.c \
	    collector/nsname.c collector/namespaces.c collector/metrics.c collector/cadence.c
# The gated command execution module (collector/exec/): `make EXEC=0` leaves out everything in it
# that can run a command; the journal and dispatch stay, so refusals are still reported.
EXEC ?= 1
EXEC_SRCS := collector/exec/gate.c collector/exec/allowlist.c collector/exec/spawn.c collector/exec/run.c
ifeq ($(EXEC),1)
APP_SRCS += $(EXEC_SRCS)
CFLAGS += -DNETINV_EXEC=1
endif
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
APP_OBJS := $(APP_SRCS:%.c=$(BUILD)/%.o)

UNIT_TESTS := test_nl test_parsers test_malformed test_oracle test_json test_snapshot test_cli test_delta \
	      test_proto test_status test_report test_cmdlog test_skim test_namespaces test_cadence \
	      test_reconcile test_mapped
ifeq ($(EXEC),1)
UNIT_TESTS += test_exec
endif
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)
UNIT_LIBS := $(shell $(PKG_CONFIG) --libs cmocka libcjson) $(DEP_LIBS)
TEST_APP_OBJS := $(BUILD)/collector/cli.o $(BUILD)/collector/log.o $(BUILD)/collector/util.o \
		 $(BUILD)/collector/state.o $(BUILD)/collector/state_acked.o $(BUILD)/collector/config.o $(BUILD)/collector/exec/cmdlog.o \
		 $(BUILD)/collector/nsname.o $(BUILD)/collector/metrics.o $(BUILD)/collector/cadence.o \
		 $(if $(filter 1,$(EXEC)),$(EXEC_SRCS:%.c=$(BUILD)/%.o))

.PHONY: all run demo test unit san valgrind bench fuzz install uninstall clean deps fixtures deb soak

all: $(BUILD)/netinv

# README command 1: install what is missing, build, print this host's report.
run: deps
	$(MAKE) all
	$(BUILD)/netinv --dry-run

$(BUILD)/netinv: $(APP_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The version is compiled in: a new VERSION must rebuild what prints it.
$(BUILD)/collector/main.o $(BUILD)/collector/harvest.o $(BUILD)/collector/agent.o $(BUILD)/collector/operator.o $(BUILD)/report/http.o $(BUILD)/report/proto.o: VERSION

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(TEST_APP_OBJS) tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -DFIXTURES='"$(CURDIR)/tests/fixtures"' \
		-o $@ $< $(LIB_OBJS) $(TEST_APP_OBJS) $(LDFLAGS) $(UNIT_LIBS)

FUZZ_APP_OBJS := $(BUILD)/collector/exec/cmdlog.o $(BUILD)/collector/state.o $(BUILD)/collector/state_acked.o $(BUILD)/collector/util.o $(BUILD)/collector/nsname.o \
		 $(BUILD)/collector/log.o
$(BUILD)/tests/fuzz_driver: tests/fuzz/fuzz_parsers.c tests/fuzz/driver.c $(LIB_OBJS) $(FUZZ_APP_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ tests/fuzz/fuzz_parsers.c tests/fuzz/driver.c $(LIB_OBJS) $(FUZZ_APP_OBJS) \
		$(LDFLAGS) $(DEP_LIBS)

# netinv's attribute walker against libmnl's (the choice in docs/ARCHITECTURE.md); make bench runs it
$(BUILD)/tests/attrbench: tests/bench/attrbench.c $(BUILD)/netlink/attr.o $(BUILD)/delta/hash.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/netlink/attr.o $(BUILD)/delta/hash.o $(LDFLAGS) $(DEP_LIBS)

$(BUILD)/tests/nlfloor: tests/bench/nlfloor.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(DEP_LIBS)

# Fault injection for the state tests: plain flags (no sanitizer runtime in a preloaded library).
$(BUILD)/tests/faultinj.so: tests/tools/faultinj.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -Wextra -fPIC -shared -o $@ $< -ldl

# Route churn with a record of what existed when (test_churn.sh)
$(BUILD)/tests/churn: tests/tools/churn.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -o $@ $<

$(BUILD)/tests/nlrecord: tests/tools/nlrecord.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(DEP_LIBS)

# What a process in netinv.service's sandbox can do to another's memory (the real-systemd test).
$(BUILD)/tests/vmprobe: tests/tools/vmprobe.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -Wextra -o $@ $<

unit: $(UNIT_BINS) $(BUILD)/tests/fuzz_driver $(BUILD)/netinv $(BUILD)/tests/nlrecord $(BUILD)/tests/churn \
	$(BUILD)/tests/faultinj.so $(BUILD)/tests/vmprobe

# register -> approve -> check in against the bundled loopback server, in a scratch namespace (root)
demo: deps
	$(MAKE) all
	NETINV=$(CURDIR)/$(BUILD)/netinv tests/integration/demo.sh

# README command 2 (and CI): install what is missing, build normally and with ASan+UBSan, run the
# whole suite (unit, fuzz driver, namespace integration) against both builds.
test: deps
	$(MAKE) unit
	$(MAKE) BUILD=build-san SAN=1 unit
	$(MAKE) BUILD=build-noexec EXEC=0 all
	BUILDS="$(BUILD) build-san" tests/run.sh

# The suite against the ASan + UBSan build only.
san: deps
	$(MAKE) BUILD=build-san SAN=1 unit
	BUILDS=build-san tests/run.sh

valgrind: deps
	WITH_VALGRIND=1 deploy/deps.sh
	$(MAKE) unit
	BUILDS=$(BUILD) NETINV_VALGRIND=1 tests/run.sh

# The convergence property test at length: 500 steps of random changes and check-in faults
# (CONVERGE_STEPS, CONVERGE_SEED to reproduce a run; root).
CONVERGE_STEPS ?= 500
soak: deps
	$(MAKE) all
	NETINV=$(CURDIR)/$(BUILD)/netinv CONVERGE_STEPS=$(CONVERGE_STEPS) tests/integration/test_converge.sh

bench: deps
	$(MAKE) all
	tests/bench/bench.sh $(BUILD)/netinv

# Allocation-failure injection (tests/integration/test_allocfail.sh): netinv with ASan + UBSan whose
# own malloc, calloc, realloc and strdup can be made to fail one at a time (tests/tools/allocfail.c).
build-alloc/netinv: $(LIB_SRCS) $(APP_SRCS) tests/tools/allocfail.c VERSION
	@mkdir -p build-alloc
	$(CC) -O1 -g -std=c17 -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer $(DEP_CFLAGS) -DNETINV_VERSION='"$(VERSION)"' \
		-DNETINV_HTTP_VERSION='"$(VERSION)"' -DLIBMNL_BUILD_VERSION='"$(shell $(PKG_CONFIG) --modversion libmnl)"' \
		$(if $(filter 1,$(EXEC)),-DNETINV_EXEC=1) -o $@ $(LIB_SRCS) $(APP_SRCS) \
		tests/tools/allocfail.c $(DEP_LIBS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup

# Coverage-guided fuzzing with clang's libFuzzer (ASan + UBSan). `make test` runs it for a fixed
# number of inputs (tests/run.sh); `make fuzz FUZZ_SECONDS=600` for as long as you like. A crashing
# input lands in tests/fuzz/regressions/ (commit it: every later run replays it).
FUZZ_SECONDS ?= 60
build-fuzz/fuzz_parsers: tests/fuzz/fuzz_parsers.c $(LIB_SRCS) collector/exec/cmdlog.c collector/state.c \
		collector/state_acked.c collector/util.c collector/log.c collector/nsname.c
	@mkdir -p build-fuzz
	clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined $(DEP_CFLAGS) \
		-DNETINV_VERSION='"$(VERSION)"' -DNETINV_HTTP_VERSION='"$(VERSION)"' \
		-o $@ tests/fuzz/fuzz_parsers.c $(LIB_SRCS) collector/exec/cmdlog.c \
		collector/state.c collector/state_acked.c collector/util.c collector/log.c collector/nsname.c $(DEP_LIBS)
fuzz: build-fuzz/fuzz_parsers
	@mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_parsers -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/regressions/ \
		build-fuzz/corpus tests/fixtures tests/fuzz/seeds tests/fuzz/regressions

# Re-record the parser fixtures in a scratch network namespace (root; see tests/fixtures/README).
fixtures: $(BUILD)/tests/nlrecord
	tests/fixtures/record.sh $(BUILD)/tests/nlrecord

deps:
	deploy/deps.sh

install: $(BUILD)/netinv
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/netinv $(DESTDIR)$(SBINDIR)/netinv
	install -m 0644 deploy/man/netinv.8 $(DESTDIR)$(MANDIR)/man8/netinv.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/sbin/netinv|ExecStart=$(SBINDIR)/netinv|' deploy/systemd/netinv.service \
		>$(DESTDIR)$(UNITDIR)/netinv.service
	install -m 0644 deploy/systemd/netinv.timer $(DESTDIR)$(UNITDIR)/netinv.timer

# The Debian package, from a copy of the sources with deploy/debian as its debian/ directory:
# build/deb/netinv_<VERSION>_<arch>.deb, checked by lintian (no errors, no warnings).
DEB_SRC := build/deb/netinv-$(VERSION)
deb:
	WITH_DEB=1 deploy/deps.sh
	@dv=$$(dpkg-parsechangelog -l deploy/debian/changelog -S Version); [ "$$dv" = "$(VERSION)" ] || \
		{ echo "deploy/debian/changelog is at $$dv, VERSION is $(VERSION)" >&2; exit 1; }
	rm -rf build/deb && mkdir -p $(DEB_SRC)
	cp -r Makefile VERSION CHANGELOG.md README.md collector netlink delta report $(DEB_SRC)/
	mkdir -p $(DEB_SRC)/docs && cp docs/REPORT.md $(DEB_SRC)/docs/
	mkdir -p $(DEB_SRC)/deploy && cp -r deploy/man deploy/systemd deploy/netinv.conf.example deploy/commands.conf.example \
		$(DEB_SRC)/deploy/
	cp -r deploy/debian $(DEB_SRC)/debian
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning build/deb/netinv_$(VERSION)_*.deb
	@ls -l build/deb/*.deb

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/netinv $(DESTDIR)$(MANDIR)/man8/netinv.8 \
		$(DESTDIR)$(UNITDIR)/netinv.service $(DESTDIR)$(UNITDIR)/netinv.timer

clean:
	rm -rf build build-san build-fuzz build-noexec

-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -type f -name '*.d' -print 2>/dev/null)
