# The two commands of the README, and a few more. Each installs the Debian
# packages it needs when they are missing, configures, builds and runs.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

BUILD_DEPS = cmake make gcc pkg-config lua5.4 liblua5.4-dev libuv1-dev librtmidi-dev libjack-jackd2-dev libavahi-client-dev libssl-dev
TEST_DEPS = $(BUILD_DEPS) lua-busted luarocks tshark jackd2
TEST_DEPS += valgrind
# real mDNS between two network namespaces (spec/discovery_netns.sh)
TEST_DEPS += dbus avahi-daemon iproute2
# tmux: the specs that type on a real terminal (Ctrl-C, the REPL, resizes);
# lua-luv: the spec of rtpmidi and luv on one loop
TEST_DEPS += tmux lua-luv
# node-rtpmidi interop peer (spec/peers). NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package: ask for npm only when it is missing.
TEST_DEPS += nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
LUA_ENV = LUA_PATH_5_4="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" LUA_CPATH_5_4="$(CURDIR)/$(BUILD)/?.so;;"

.PHONY: all build demo check check-asan test deps-build deps-test clean spec-peers

all: build

deps-build:
	@sh .ci/deps.sh $(BUILD_DEPS)

deps-test:
	@sh .ci/deps.sh $(TEST_DEPS)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

## demo: two sessions on loopback stream a phrase of MIDI notes
demo: build
	$(LUA_ENV) lua5.4 bin/rtpmidi demo

## check: build and run every test (C units, busted specs, luarocks install) through CTest
## (configured again with the test tools required: a build directory that
## `make demo` configured before busted and luarocks were installed would
## otherwise leave their tests out and still report 100% passed)
check: deps-test spec-peers
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DRTPMIDI_REQUIRE_TEST_TOOLS=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

## spec-peers: node-rtpmidi for the AppleMIDI interop specs (when node and npm exist)
spec-peers:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && [ ! -d spec/peers/node_modules/rtpmidi ]; then \
	  cd spec/peers && npm install --omit=optional --ignore-scripts --no-package-lock; fi

## dist: a source rock of the last commit in $(DIST): rtpmidi-VERSION.tar.gz (git archive
## of HEAD), rtpmidi-VERSION-1.rockspec (the scm rockspec with the version of CMakeLists.txt,
## the tarball as its source and its MD5) and rtpmidi-VERSION-1.src.rock (luarocks pack);
## a release sets DIST_URL to where the tarball is published (rockspec/dist.sh, README.md)
VERSION := $(shell sed -n 's/^project.rtpmidi VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
DIST ?= dist
DIST_URL ?=
.PHONY: dist
dist:
	@sh rockspec/dist.sh "$(DIST)" "$(VERSION)" "$(DIST_URL)"

## check-asan: the same under AddressSanitizer and UndefinedBehaviorSanitizer
check-asan:
	$(MAKE) check BUILD=build-asan CMAKE_FLAGS="-DRTPMIDI_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

## bench: an optimised build in $(BENCH_BUILD), then the benchmarks on loopback;
## prints a markdown table and writes it to bench/out/results.md (bench/README.md)
## (gnuplot draws bench/out/latency.png; node-rtpmidi is the comparison, spec/peers)
BENCH_BUILD ?= build-bench
BENCH_DEPS = $(BUILD_DEPS) gnuplot-nox linux-perf valgrind nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
.PHONY: bench
bench:
	@sh .ci/deps.sh $(BENCH_DEPS)
	@$(MAKE) --no-print-directory spec-peers
	$(MAKE) build BUILD=$(BENCH_BUILD) CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRTPMIDI_TESTS=OFF -DRTPMIDI_BENCH=ON"
	sh bench/run.sh $(BENCH_BUILD)

## fuzz: the libFuzzer targets of csrc/test/fuzz, built with clang in $(FUZZ_BUILD)
## (ASan + UBSan), each run for FUZZ_SECONDS, FUZZ_JOBS at a time; one line per target
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= $(JOBS)
FUZZ_DEPS = $(BUILD_DEPS) clang libclang-rt-dev
.PHONY: fuzz
fuzz:
	@sh .ci/deps.sh $(FUZZ_DEPS)
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DRTPMIDI_FUZZ=ON -DRTPMIDI_TESTS=OFF -DRTPMIDI_BENCH=OFF
	cmake --build $(FUZZ_BUILD) --target fuzz_all -j $(JOBS)
	sh csrc/test/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

test: check

clean:
	rm -rf build build-asan build.luarocks
	rm -rf $(BENCH_BUILD) bench/out
	rm -rf $(FUZZ_BUILD)
