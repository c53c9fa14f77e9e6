# The README's two commands: `make demo` and `make test`. Both install what is missing first.
PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: setup build demo test bench asan fuzz format clean

setup:
	@bash scripts/setup.sh

build: setup
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

demo: build
	./build/$(PRESET)/hyphae demo

test: build
	ctest --preset $(PRESET) -j $(JOBS)

bench: build
	bash bench/run.sh build/$(PRESET)

asan:
	$(MAKE) test PRESET=asan

FUZZ_SECONDS ?= 30
fuzz:
	@bash scripts/setup.sh --fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	bash scripts/fuzz.sh build/fuzz $(FUZZ_SECONDS)

format:
	find src apps tests bench include -name '*.[ch]pp' 2>/dev/null | xargs clang-format -i

clean:
	rm -rf build
