#!/usr/bin/env bash
# test.sh: installs what is missing, then builds and runs the whole test suite twice (an optimised
# gcc build and a clang ASan+UBSan build) and runs each fuzz target briefly.
#   FUZZ_SECONDS=30 by default; 0 skips the fuzz runs (the seed corpora still replay in ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-30}
start=$(date +%s)
stamp() { echo "== $* ($(( $(date +%s) - start ))s)"; }

stamp "installing dependencies"
bash scripts/install-deps.sh --test

stamp "release build"
bash scripts/build.sh release
stamp "release tests"
(cd build/release && ctest --output-on-failure --timeout 300)

stamp "ASan+UBSan build"
bash scripts/build.sh asan
stamp "ASan+UBSan tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build/asan && ctest --output-on-failure --timeout 600)

if [ "$fuzz_seconds" -gt 0 ]; then
  for target in build/asan/tests/fuzz/*_fuzz; do
    name=$(basename "$target" _fuzz)
    stamp "fuzzing $name for ${fuzz_seconds}s"
    work=$(mktemp -d)
    cp tests/fuzz/corpus/"$name"/* "$work"/
    "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=4096 "$work" 2>&1 | tail -n 3
    rm -rf "$work"
  done
fi
stamp "all tests passed"
