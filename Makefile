# synthpix: top-level driver. CMake is the build system; this file only gives the
# everyday commands short names. See README.md.
#
#   make            configure and build into build/ (CLI: build/synthpix)
#   make run        install missing Debian packages, build, generate pairs into ./synthpix-out/
#   make test       build and run every test through ctest (the quick tier)
#   make test-full  the same with the long stress tiers (SP_TEST_FULL=1)
#   make test-minimal  build without libmatio, libhdf5, MPI and libcairo (build-minimal/) and run every test
#   make install    install headers, libsynthpix.so/.a, pkg-config and CMake files and the
#                   command under $(PREFIX) (default /usr/local); DESTDIR=... stages it
#   make asan       tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make tsan       threaded tests under ThreadSanitizer (build-tsan/)
#   make bench      synthpix bench on the embedded default
#   make bench-python  the Python binding next to synthpix bench (bench/bench_python.py)
#   make deps       install the Debian packages the build needs (deps-test: and the tests)

BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
RUN_ARGS   ?= -o synthpix-out
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all build run test test-full test-minimal install asan tsan bench bench-python deps deps-test check-deps clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: check-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job, quietly: configure and build the command alone (the build log goes to
# $(BUILD)/make-run.log; its tail is shown if the build fails), one line to say so, then
# the job itself.
run: deps
	@mkdir -p $(BUILD)
	@( cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) && \
	   cmake --build $(BUILD) -j $(JOBS) --target synthpix_cli ) > $(BUILD)/make-run.log 2>&1 || \
	   { tail -n 30 $(BUILD)/make-run.log; echo "make run: the build failed; the whole log is $(BUILD)/make-run.log"; exit 1; }
	@echo "make run: built $(BUILD)/synthpix (build log: $(BUILD)/make-run.log); running: synthpix generate $(RUN_ARGS)"
	@./$(BUILD)/synthpix generate $(RUN_ARGS)

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-full: deps-test build
	cd $(BUILD) && SP_TEST_FULL=1 ctest --output-on-failure -j $(JOBS)

# The optional libraries left out: their tests skip, and .mat/.h5 inputs must be refused by
# name; without MPI there is no synthpix-mpi and its tests skip (the group protocol is still
# tested, over sockets); `synthpix preview` must say that the build lacks libcairo.
test-minimal: deps-test
	cmake -S . -B build-minimal -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSP_WITH_MATIO=OFF -DSP_WITH_HDF5=OFF -DSP_WITH_MPI=OFF -DSP_WITH_CAIRO=OFF -DSP_WERROR=ON
	cmake --build build-minimal -j $(JOBS)
	cd build-minimal && ctest --output-on-failure -j $(JOBS)

# cmake --install reads DESTDIR from the environment.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DSP_SANITIZE=address,undefined -DSP_WERROR=ON"

tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_SANITIZE=thread -DSP_WERROR=ON
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L threads -j $(JOBS)

bench: build
	./$(BUILD)/synthpix bench

bench-python: build
	PYTHONPATH=$(BUILD)/python SP_CLI=$(BUILD)/synthpix /usr/bin/python3 bench/bench_python.py

deps:
	@bash scripts/deps.sh install

# The tests also cross-check against NumPy, zarr, h5py and SciPy (Debian packages).
deps-test:
	@bash scripts/deps.sh install-test

check-deps:
	@bash scripts/deps.sh check

clean:
	rm -rf build build-asan build-tsan build-minimal build-python python/synthpix.egg-info synthpix-out
