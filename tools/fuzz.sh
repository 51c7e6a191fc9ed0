#!/bin/bash
# Fuzz the whole parse step for SECONDS seconds (default 60): builds fuzz/fuzz_parse with clang
# and -fsanitize=fuzzer,address,undefined in build-fuzz/, seeds it with the fixture mails of
# tests/mail, and runs it. Inputs it finds interesting go to build-fuzz/corpus (kept between
# runs); a crash is written to build-fuzz/crash-* and the script exits non-zero.
#   tools/fuzz.sh 60              what CI runs
#   tools/fuzz.sh 3600 -jobs=2    longer, extra libFuzzer options after SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS] [libFuzzer options]" >&2; exit 2 ;;
esac

CC=clang cmake -S . -B build-fuzz -DPAHT_FUZZ=ON -DPAHT_INTEGRATION_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzz_parse -j"$(nproc)"

mkdir -p build-fuzz/corpus
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# attachments are written for every input: in memory when we can (several times faster), in
# a folder of this run's that goes when it ends, however it ends (the target's own folder is
# never removed: libFuzzer exits without a word to it)
base=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  base=/dev/shm
fi
work=$(mktemp -d "$base/paht-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work
# -rss_limit_mb: a message may cost memory, not gigabytes; -timeout: each message its own
# time limit (SPEC §3); -max_len: big enough for the multi-part fixtures to mutate
build-fuzz/fuzz/fuzz_parse -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
  -max_len=262144 -print_final_stats=1 -artifact_prefix=build-fuzz/ "$@" \
  build-fuzz/corpus tests/mail
