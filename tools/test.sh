#!/bin/bash
# The whole test suite: installs what is missing, builds with warnings as errors, runs CTest
# (unit tests, and integration tests on real Dovecot + Postfix started on loopback).
#   tools/test.sh              the normal build, in build/
#   tools/test.sh --sanitize   AddressSanitizer + UBSan build, in build-asan/
# Extra arguments after those go to ctest (e.g. -R first_slice). Needs root (the mail servers).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
flags=(-DPAHT_WERROR=ON)
if [ "${1:-}" = --sanitize ]; then
  shift
  build=build-asan
  flags+=(-DPAHT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
tools/install-deps.sh
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
