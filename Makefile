# Thin wrapper around CMake so that `make` and `make check` do the obvious.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all check asan check-asan tsan check-tsan clean setup

all: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

check: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCT_SANITIZE=ON -DCMAKE_C_COMPILER=clang $(CMAKE_FLAGS)

asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

check-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over what runs on several threads: handles opened and
# traced concurrently (unit.test_threads, unit.test_query's shared maps)
# and trace --jobs (golden.trace_batch). Any race fails the run.
$(TSAN_BUILD)/Makefile:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_TSAN=ON -DCMAKE_C_COMPILER=clang $(CMAKE_FLAGS)

tsan: $(TSAN_BUILD)/Makefile
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target celltrace test_threads test_query

check-tsan: tsan
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	  ctest --output-on-failure -R 'unit.test_threads|unit.test_query|golden.trace_batch|golden.api'

setup:
	scripts/setup.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)

# Fuzzing (fuzz/README.md): builds the libFuzzer targets with clang, ASan
# and UBSan in $(FUZZ_BUILD), then runs each for FUZZ_SECONDS, FUZZ_JOBS at
# a time, and prints executions and crashes per target.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(JOBS)
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCT_SANITIZE=ON -DCT_LIBFUZZER=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)
