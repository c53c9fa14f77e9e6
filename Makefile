# The README's two commands: `make demo` and `make test`. Both install what is missing first.
PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: setup build demo test bench asan tsan fuzz fuzz-build fuzz-merge format clean

setup:
	@bash scripts/setup.sh

build: setup
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

# The demo needs only the hyphae binary: the tests, fuzz replays and benchmarks are not built.
demo: setup
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS) --target hyphae
	./build/$(PRESET)/hyphae demo

test: build
	ctest --preset $(PRESET) -j $(JOBS)

bench: build
	bash bench/run.sh build/$(PRESET)

asan:
	$(MAKE) test PRESET=asan

# ThreadSanitizer (GCC, RelWithDebInfo) over the whole CTest suite; suppressions in scripts/tsan.supp.
tsan:
	$(MAKE) test PRESET=tsan

# libFuzzer targets only (the fuzz preset builds the fuzz_all target). FUZZ_TARGETS: names without
# the fuzz_ prefix (default: all); FUZZ_JOBS: targets fuzzed at once; FUZZ_RUNS: also stop a target
# after that many executions. A plateau campaign: make fuzz FUZZ_SECONDS=1200 FUZZ_RUNS=10000000
FUZZ_SECONDS ?= 30
FUZZ_JOBS ?= 2
FUZZ_RUNS ?= -1
FUZZ_TARGETS ?=
fuzz-build:
	@bash scripts/setup.sh --fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

fuzz: fuzz-build
	bash scripts/fuzz.sh -j $(FUZZ_JOBS) -r $(FUZZ_RUNS) build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Minimises seed + grown corpora back into tests/fuzz/corpus/<name>/ (libFuzzer -merge=1), to commit.
fuzz-merge: fuzz-build
	bash scripts/fuzz.sh --merge build/fuzz $(FUZZ_TARGETS)

format:
	find src apps tests bench include -name '*.[ch]pp' 2>/dev/null | xargs clang-format -i

clean:
	rm -rf build
