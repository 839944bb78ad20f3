# gantry — the human entry point. CMake does the building; build trees live under build/.
#
#   make build            release build in build/release
#   make run              deps, build, then start gantry on examples/gantry.json
#   make test             sanitized build in build/test, lint, all CTest tests (what CI runs)
#   make fuzz             libFuzzer targets for FUZZ_SECONDS each (default 60)
#   make bench            release build with benchmarks in build/bench, then bench/run.sh
#   make format           clang-format -i over the C sources
#   make clean            remove build/
#   make man              the gantry(8) man page in build/man/gantry.8 (from README.md)
#   make install          release build, then install under $(DESTDIR)$(PREFIX) (default
#                         /usr/local; config in $(SYSCONFDIR)/gantry, kept if present)
#   make uninstall        remove what install put there (the config stays; PURGE=1 removes it)
#   make deb              the Debian package in build/deb/ (dpkg-buildpackage on a copy of the tree)
#   make deps-<profile>   install the Debian packages for run|test|fuzz|bench

FUZZ_SECONDS ?= 60
NPROC := $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST ?= ctest
CLANG_FORMAT ?= clang-format
FORMAT_DIRS := src tests fuzz bench examples

RELEASE_DIR := build/release
TEST_DIR := build/test
FUZZ_DIR := build/fuzz
BENCH_DIR := build/bench

# cmake --build runs its own make with its own -j; do not hand it this make's jobserver flags.
CMAKE_BUILD = MAKEFLAGS=--no-print-directory $(CMAKE) --build

.PHONY: all build run run-tls test fuzz bench format format-check clean \
	deps-run deps-test deps-fuzz deps-bench man install install-files uninstall deb

# Install locations (GNU conventions). PREFIX=/usr puts the config in /etc.
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/gantry
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MAN_DIR := build/man
DEB_DIR := build/deb

all: build

deps-run deps-test deps-fuzz deps-bench: deps-%:
	scripts/deps.sh $*

build:
	$(CMAKE) -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release
	$(CMAKE_BUILD) $(RELEASE_DIR) -j$(NPROC)

# Sequenced explicitly so that `make -j run` cannot start the build before the deps exist.
run:
	$(MAKE) deps-run
	$(MAKE) build
	scripts/run-example.sh

# The same with the HTTPS listener on :8443, on a self-signed certificate made for localhost
# (examples/certs/, kept between runs; delete it for a fresh one).
run-tls:
	$(MAKE) deps-run
	$(MAKE) build
	test -f examples/certs/cert.pem || scripts/gen-selfsigned.sh examples/certs localhost 127.0.0.1
	GW_CONFIG=examples/gantry-tls.json scripts/run-example.sh

test: deps-test
	$(CMAKE) -S . -B $(TEST_DIR) -DCMAKE_BUILD_TYPE=Debug -DGW_SANITIZE=ON
	$(CMAKE_BUILD) $(TEST_DIR) -j$(NPROC)
	scripts/lint.sh
	$(CTEST) --test-dir $(TEST_DIR) --output-on-failure -j2

# Each target runs on a copy of its seed corpus (fuzz/corpus/<name>/, <name> without the fuzz_
# prefix) so new inputs never pollute the tree; crashes land in build/fuzz/artifacts/<name>/.
# Dictionary: fuzz/<name>.dict if present, else fuzz/http.dict if present.
fuzz: deps-fuzz
	CC=clang $(CMAKE) -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Release -DGW_FUZZ=ON
	$(CMAKE_BUILD) $(FUZZ_DIR) -j$(NPROC)
	@set -u; failed=""; ran=0; \
	for src in fuzz/fuzz_*.c; do \
	    [ -f "$$src" ] || continue; \
	    target=$$(basename "$$src" .c); name=$${target#fuzz_}; \
	    corpus=$(FUZZ_DIR)/corpus/$$name; artifacts=$(FUZZ_DIR)/artifacts/$$name; \
	    mkdir -p "$$corpus" "$$artifacts"; \
	    for seeds in fuzz/corpus/$$name fuzz/corpus/$$target; do \
	        if [ -d "$$seeds" ]; then cp -R "$$seeds/." "$$corpus/"; fi; \
	    done; \
	    dict=""; \
	    if [ -f fuzz/$$name.dict ]; then dict=-dict=fuzz/$$name.dict; \
	    elif [ -f fuzz/http.dict ]; then dict=-dict=fuzz/http.dict; fi; \
	    echo "== $$target: $(FUZZ_SECONDS)s, corpus $$corpus $$dict"; \
	    ran=$$((ran + 1)); \
	    if ! $(FUZZ_DIR)/$$target -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	            -print_final_stats=1 -artifact_prefix="$$artifacts/" $$dict "$$corpus"; then \
	        failed="$$failed $$target"; \
	    fi; \
	done; \
	if [ "$$ran" -eq 0 ]; then echo "fuzz: no fuzz/fuzz_*.c targets"; fi; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_DIR)/artifacts/)" >&2; exit 1; \
	fi; \
	echo "fuzz: $$ran target(s) ran $(FUZZ_SECONDS)s each without a crash"

# A release tree of its own (build/bench: gantry, example_*, bench_*); bench/run.sh gets its
# location in GW_BUILD_DIR and the gateway in GANTRY_BIN.
bench: deps-bench
	$(CMAKE) -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release -DGW_BENCH=ON
	$(CMAKE_BUILD) $(BENCH_DIR) -j$(NPROC)
	@if [ -f bench/run.sh ]; then \
	    GW_BUILD_DIR=$(BENCH_DIR) GANTRY_BIN=$(BENCH_DIR)/gantry bash bench/run.sh; \
	else \
	    set -e; ran=0; \
	    for bin in $(BENCH_DIR)/bench_*; do \
	        [ -x "$$bin" ] || continue; \
	        echo "== $$bin"; "$$bin"; ran=$$((ran + 1)); \
	    done; \
	    [ "$$ran" -gt 0 ] || echo "bench: no bench/bench_*.c and no bench/run.sh"; \
	fi

# tests/node/node_modules holds npm packages (some ship C sources): not ours to format.
format:
	find $(FORMAT_DIRS) -name node_modules -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null \
	    | xargs -0 -r $(CLANG_FORMAT) -i

format-check:
	find $(FORMAT_DIRS) -name node_modules -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null \
	    | xargs -0 -r $(CLANG_FORMAT) --dry-run -Werror

clean:
	rm -rf build

man: $(MAN_DIR)/gantry.8

$(MAN_DIR)/gantry.8: README.md CMakeLists.txt scripts/gen-man.py
	@mkdir -p $(MAN_DIR)
	python3 scripts/gen-man.py README.md > $@.tmp && mv $@.tmp $@

# What `make install` writes, relative to $(DESTDIR). The config is never overwritten.
INSTALLED_FILES = $(SBINDIR)/gantry $(MANDIR)/man8/gantry.8 $(UNITDIR)/gantry.service \
	$(SYSUSERSDIR)/gantry.conf $(SYSCONFDIR)/logrotate.d/gantry $(DOCDIR)/README.md \
	$(DOCDIR)/config.md $(DOCDIR)/examples/gantry.json $(DOCDIR)/examples/gantry.yaml

install:
	$(MAKE) build
	$(MAKE) install-files

# The files alone, from an existing release build (debian/rules uses this).
install-files: man
	@test -x $(RELEASE_DIR)/gantry || { echo "install: no $(RELEASE_DIR)/gantry; run make build" >&2; exit 1; }
	install -D -m 0755 $(RELEASE_DIR)/gantry $(DESTDIR)$(SBINDIR)/gantry
	install -D -m 0644 $(MAN_DIR)/gantry.8 $(DESTDIR)$(MANDIR)/man8/gantry.8
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/sbin/gantry|$(SBINDIR)/gantry|g' -e 's|/etc/gantry/|$(SYSCONFDIR)/gantry/|g' \
	    deploy/systemd/gantry.service > $(DESTDIR)$(UNITDIR)/gantry.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/gantry.service
	install -D -m 0644 deploy/sysusers/gantry.conf $(DESTDIR)$(SYSUSERSDIR)/gantry.conf
	install -D -m 0644 deploy/logrotate/gantry $(DESTDIR)$(SYSCONFDIR)/logrotate.d/gantry
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 docs/config.md $(DESTDIR)$(DOCDIR)/config.md
	install -D -m 0644 examples/gantry.json $(DESTDIR)$(DOCDIR)/examples/gantry.json
	install -D -m 0644 examples/gantry.yaml $(DESTDIR)$(DOCDIR)/examples/gantry.yaml
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json ]; then \
	    echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json"; \
	else \
	    install -D -m 0644 deploy/gantry.json $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if [ "$(PURGE)" = 1 ]; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json; \
	    rmdir $(DESTDIR)$(SYSCONFDIR)/gantry 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json ]; then \
	    echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/gantry/gantry.json kept (PURGE=1 removes it)"; \
	fi

# dpkg-buildpackage builds in the tree it is given: it gets a copy of the committed tree plus
# the working tree's changes (no build/, no node_modules), so neither build/test nor the
# worktree is touched. The .deb, .buildinfo and .changes land in $(DEB_DIR).
deb:
	scripts/build-deb.sh $(DEB_DIR)
