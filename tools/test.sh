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
skip=()
if [ "${1:-}" = --sanitize ]; then
  shift
  build=build-asan
  flags+=(-DPAHT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  # The Debian package and install-prefix tests build their own programs from the source
  # (dpkg-buildpackage, cmake --install) and never run this build's: under the sanitizers they
  # would only build and check the same package and prefix again (4 minutes on 2 cores)
  skip=(-E '^install/test_(debian_package|install_prefix)$')
fi
tools/install-deps.sh
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "${skip[@]}" "$@"
