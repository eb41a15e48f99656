# totpd: build, install and test. `make test` and `make install` need root on Debian 12:
# they install missing packages, create test users and PAM services.

PREFIX     ?= /usr/local
DESTDIR    ?=
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
PAMDIR     ?= /lib/$(MULTIARCH)/security
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/totpd
MANDIR     ?= $(PREFIX)/share/man
ZSHDIR     ?= $(PREFIX)/share/zsh/site-functions
SWIFT      ?= swift
PYTHON     ?= /usr/bin/python3
BUILD      := build

DEBIAN_PACKAGES := libpam0g-dev libqrencode-dev libsqlite3-dev libssl-dev pamtester oathtool python3-pytest passwd util-linux mount binutils sqlite3 systemd sudo valgrind openssh-server openssh-client python3-paramiko zbar-tools python3-pil python3-pexpect groff-base dpkg-dev lintian systemd-container debootstrap

PAM_SOURCES := $(wildcard Sources/pam_totpd/*.c) $(wildcard Sources/pam_totpd/include/*.h)
PAM_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -D_FORTIFY_SOURCE=2 \
               -fstack-protector-strong -ISources/pam_totpd/include
PAM_LDFLAGS := -shared -Wl,--version-script=Sources/pam_totpd/pam_totpd.map -Wl,-z,relro,-z,now
C_TEST_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -ISources/pam_totpd/include \
                 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The peers `make bench` measures totpd against, and the indexed passwd of its large sites.
BENCH_PACKAGES := libpam-google-authenticator libpam-oath libnss-db systemd

.PHONY: all build install deb test test-package deps bench-deps test-c test-swift test-system test-guard test-fuzz check-security bench demo clean

all: build

# The Swift runtime is linked in, so installed binaries do not depend on the toolchain's directory.
RELEASE_FLAGS := -c release --static-swift-stdlib

build: $(BUILD)/pam_totpd.so
	$(SWIFT) build $(RELEASE_FLAGS) --product totpd
	$(SWIFT) build $(RELEASE_FLAGS) --product totpctl

# Built with cc, not SwiftPM: a SwiftPM dynamic library would load the Swift runtime into sshd.
$(BUILD)/pam_totpd.so: $(PAM_SOURCES) Sources/pam_totpd/pam_totpd.map
	@mkdir -p $(BUILD)
	$(CC) $(PAM_CFLAGS) $(PAM_LDFLAGS) -o $@ $(filter %.c,$(PAM_SOURCES)) -lpam

install: build
	install -D -s -m 0755 .build/release/totpd $(DESTDIR)$(PREFIX)/sbin/totpd
	install -D -s -m 0755 .build/release/totpctl $(DESTDIR)$(PREFIX)/bin/totpctl
	install -D -m 0644 $(BUILD)/pam_totpd.so $(DESTDIR)$(PAMDIR)/pam_totpd.so
	strip --strip-unneeded $(DESTDIR)$(PAMDIR)/pam_totpd.so
	@# An existing configuration is the admin's: never overwrite it.
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/totpd
	test -e $(DESTDIR)$(SYSCONFDIR)/totpd/totpd.conf || \
	    install -m 0644 config/totpd.conf $(DESTDIR)$(SYSCONFDIR)/totpd/totpd.conf
	install -d -m 0755 $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(DOCDIR)
	sed -e 's|/usr/local/sbin/totpd|$(PREFIX)/sbin/totpd|' -e 's|/usr/local/share/doc/totpd|$(DOCDIR)|' \
	    systemd/totpd.service > $(DESTDIR)$(SYSTEMDDIR)/totpd.service
	for unit in totpd.socket totpd-root.socket; do \
	    sed -e 's|/usr/local/share/doc/totpd|$(DOCDIR)|' systemd/$$unit > $(DESTDIR)$(SYSTEMDDIR)/$$unit || exit 1; \
	done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -D -m 0644 docs/man/totpctl.1 $(DESTDIR)$(MANDIR)/man1/totpctl.1
	install -D -m 0644 docs/man/totpd.8 $(DESTDIR)$(MANDIR)/man8/totpd.8
	install -D -m 0644 docs/man/pam_totpd.8 $(DESTDIR)$(MANDIR)/man8/pam_totpd.8
	@# Completions come from the command definitions themselves (swift-argument-parser).
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(ZSHDIR)
	@# bash-completion sources the script; it is not run, so it has no #! line.
	.build/release/totpctl --generate-completion-script bash | sed '1{/^#!/d}' > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/totpctl
	.build/release/totpctl --generate-completion-script zsh > $(DESTDIR)$(ZSHDIR)/_totpctl

# A Debian package of the release build, from packaging/: build/totpd_VERSION_ARCH.deb.
deb: build
	packaging/build-deb.sh

# The package through dpkg here (install, upgrade, remove, purge) and lintian; as root.
test-package: build
	$(PYTHON) -m pytest -p no:cacheprovider -q Tests/package

deps bench-deps: PACKAGES = $(if $(filter bench-deps,$@),$(BENCH_PACKAGES),$(DEBIAN_PACKAGES))
deps bench-deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    if [ "$$(id -u)" != 0 ]; then echo "make test needs root to install them" >&2; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test: deps test-c test-fuzz test-swift test-system test-guard test-package

test-c: $(BUILD)/pam_totpd.so
	@mkdir -p $(BUILD)/tests
	for t in args client display; do \
	    $(CC) $(C_TEST_CFLAGS) -o $(BUILD)/tests/test_$$t Tests/pam/test_$$t.c Sources/pam_totpd/$$t.c || exit 1; \
	    $(BUILD)/tests/test_$$t || exit 1; \
	done

# Coverage-guided fuzzers, each for FUZZ_SECONDS from the committed seeds (Tests/fuzz/corpus):
# the module's answer parser, argument parser and message splitter (C, ASan and UBSan), and the
# daemon's frame decoder, request parser and configuration loader (Swift, ASan; one executable
# built in its own build directory, since every module gets the fuzzer's instrumentation). The
# Swift toolchain's clang carries the fuzzer runtime. What a run learns stays in build/fuzz; a
# crash leaves its input there and fails the target.
FUZZ_CC            ?= $(dir $(realpath $(shell command -v $(SWIFT))))clang
FUZZ_SECONDS       ?= 10
FUZZ_C_TARGETS     := reply:client args:args message:display
FUZZ_SWIFT_TARGETS := frames request configuration
FUZZ_SWIFT_BIN     := .build/fuzz/debug/totpd-fuzz
# One run: $(1) the corpus name, $(2) the fuzzer command before libFuzzer's options.
define run_fuzzer
mkdir -p $(BUILD)/fuzz/learned-$(1); \
$(2) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=$(BUILD)/fuzz/crash-$(1)- $(BUILD)/fuzz/learned-$(1) Tests/fuzz/corpus/$(1) \
    2>$(BUILD)/fuzz/$(1).log || { tail -40 $(BUILD)/fuzz/$(1).log; exit 1; }; \
echo "fuzz_$(1): $$(grep -o 'stat::number_of_executed_units: *[0-9]*' $(BUILD)/fuzz/$(1).log | grep -o '[0-9]*$$') inputs in $(FUZZ_SECONDS) s, no finding"
endef
test-fuzz:
	@mkdir -p $(BUILD)/fuzz
	for t in $(FUZZ_C_TARGETS); do \
	    name=$${t%%:*}; source=$${t##*:}; \
	    $(FUZZ_CC) -fuse-ld=lld -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	        -D_GNU_SOURCE -ISources/pam_totpd/include -o $(BUILD)/fuzz/fuzz_$$name \
	        Tests/fuzz/fuzz_$$name.c Sources/pam_totpd/$$source.c || exit 1; \
	    $(call run_fuzzer,$$name,$(BUILD)/fuzz/fuzz_$$name); \
	done
	TOTPD_FUZZ=1 $(SWIFT) build --build-path .build/fuzz --product totpd-fuzz \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
	# The runtime's backtracer would hold a crashing run for its report; libFuzzer reports it.
	for name in $(FUZZ_SWIFT_TARGETS); do \
	    $(call run_fuzzer,$$name,SWIFT_BACKTRACE=enable=no $(FUZZ_SWIFT_BIN) $$name); \
	done

test-swift:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The directory-service stand-in of the system tests: a glibc NSS module (Tests/nss).
NSS_STANDIN := $(BUILD)/tests/libnss_totpdtest.so.2
$(NSS_STANDIN): Tests/nss/nss_totpdtest.c
	@mkdir -p $(BUILD)/tests
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -shared -o $@ $< -lpthread

# Real binaries, real libpam (pamtester), real users: needs root.
test-system: $(BUILD)/pam_totpd.so $(NSS_STANDIN)
	$(SWIFT) build
	TOTPD_BIN=$(CURDIR)/.build/debug/totpd TOTPCTL_BIN=$(CURDIR)/.build/debug/totpctl \
	PAM_MODULE=$(CURDIR)/$(BUILD)/pam_totpd.so \
	    $(PYTHON) -m pytest -p no:cacheprovider -v Tests/system

# The long forms of the attack, fault and load checks (Tests/security/check.py): one line per
# check with its figure; fails if any check does.
check-security: deps $(BUILD)/pam_totpd.so
	$(SWIFT) build --build-tests
	$(PYTHON) Tests/security/check.py

# The benchmark's C drivers (bench/): libpam, the socket, the floors. libcrypto computes the
# bench users' codes; the module itself never links it.
BENCH_TOOLS := $(BUILD)/bench/pam_driver $(BUILD)/bench/socket_load $(BUILD)/bench/floors \
    $(BUILD)/bench/floor_server
BENCH_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Ibench -ISources/pam_totpd/include
$(BUILD)/bench/pam_driver: bench/pam_driver.c bench/bench_otp.h
	@mkdir -p $(BUILD)/bench
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lpam -lcrypto
$(BUILD)/bench/socket_load: bench/socket_load.c bench/bench_otp.h Sources/pam_totpd/client.c
	@mkdir -p $(BUILD)/bench
	$(CC) $(BENCH_CFLAGS) -o $@ bench/socket_load.c Sources/pam_totpd/client.c -lcrypto -lpthread
$(BUILD)/bench/floors: bench/floors.c bench/bench_otp.h
	@mkdir -p $(BUILD)/bench
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lcrypto
$(BUILD)/bench/floor_server: bench/floor_server.c Sources/pam_totpd/include/totpd_wire.h
	@mkdir -p $(BUILD)/bench
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# A short socket benchmark of the release build: fails when a VERIFY round trip costs more
# than ten times the fdatasync-plus-HMAC floor of the same run, or a right code is refused.
test-guard: build $(BENCH_TOOLS)
	TOTPD_BIN=$(CURDIR)/.build/release/totpd BENCH_WORK=/var/tmp/totpd-guard BENCH_SECONDS=2 \
	    $(PYTHON) bench/run.py --guard

# totpd against pam_google_authenticator and pam_oath, through libpam and at the socket, with
# 10k, 100k and 1M users (BENCH_USERS to choose); release build. Prints the table, writes
# build/bench/results.jsonl, report.txt and chart.svg.
bench: deps bench-deps build $(BENCH_TOOLS)
	$(SWIFT) build $(RELEASE_FLAGS) --product bench-nio-floor
	$(PYTHON) bench/run.py

# A throwaway daemon, a demo user and a real PAM login; DEMO_AUTO=1 computes the codes itself.
demo: deps $(BUILD)/pam_totpd.so
	$(SWIFT) build --product totpd
	$(SWIFT) build --product totpctl
	scripts/demo.sh $(CURDIR)/.build/debug/totpd $(CURDIR)/.build/debug/totpctl $(CURDIR)/$(BUILD)/pam_totpd.so

clean:
	rm -rf $(BUILD) .build
