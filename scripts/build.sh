#!/usr/bin/env bash
# build.sh: configures and builds one of the project's builds.
#   scripts/build.sh release [targets...]   gcc, optimised: the demo, benchmarks, main test run
#   scripts/build.sh asan [targets...]      clang, ASan+UBSan, libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
shift || true
case "$kind" in
  release) dir=build/release
           args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++) ;;
  asan)    dir=build/asan
           args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
                 -DPHAROS_SANITIZE=ON -DPHAROS_FUZZ=ON) ;;
  *) echo "build.sh: unknown build '$kind' (release or asan)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
