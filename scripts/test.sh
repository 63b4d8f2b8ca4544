#!/usr/bin/env bash
# Set-up command 2: installs every dependency, then builds and runs the whole test suite:
#   1. Release build with every backend module: CPU, Vulkan (its tests run on lavapipe), CUDA
#      (/usr/local/cuda) and HIP (Debian's ROCm) compiled; GPU tests skip where no GPU exists;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build (clang) of the engine tests, plus short
#      fuzzing runs of every fuzz target.
# Uses ccache; fits CI's 90 minutes on 2 cores. Exit status: non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
scripts/setup-deps.sh
# npm packages: the official OpenAI/Anthropic SDKs (tests/) and the web UI's (apps/server/web).
scripts/setup-npm.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/hearth-ccache} CCACHE_BASEDIR=$PWD CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

gpu=()
[ -x /usr/local/cuda/bin/nvcc ] && gpu+=(-DHEARTH_CUDA=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
command -v hipcc >/dev/null && gpu+=(-DHEARTH_HIP=ON)
[ ${#gpu[@]} -gt 0 ] && gpu+=(-DHEARTH_GPU_WERROR=ON)  # the GPU modules must compile warning-free

echo "=== release build (modules: vulkan ${gpu[*]}) + tests"
# Tests and benchmarks on explicitly: scripts/install.sh configures the same build/release without
# them, and a cached OFF would leave ctest nothing to run (--no-tests=error makes that a failure).
cmake --preset release "${launcher[@]}" "${gpu[@]}" -DHEARTH_TESTS=ON -DHEARTH_BENCH=ON >/dev/null
cmake --build --preset release -j"$jobs"
ctest --test-dir build/release -j"$jobs" --output-on-failure --timeout 900 --no-tests=error

echo "=== ASan + UBSan build + tests, fuzz smoke"
# GPU modules and the web UI stay out of the sanitizer build (covered by the release run).
cmake --preset asan-ubsan "${launcher[@]}" -DHEARTH_VULKAN=OFF -DHEARTH_TESTS=ON >/dev/null
cmake --build --preset asan-ubsan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build/asan -j"$jobs" --output-on-failure --timeout 1800 --no-tests=error -LE "slow|gpu|vulkan|cuda|web"
scripts/fuzz.sh 20
echo "=== all tests passed"
