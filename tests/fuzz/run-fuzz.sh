#!/usr/bin/env bash
# run-fuzz.sh [--seconds N] [--jobs J] [TARGET...]
#
# Builds every fuzz target with clang -fsanitize=fuzzer,address,undefined into
# build-fuzz/ (GS_FUZZ_BUILD overrides) and runs each for N seconds (default
# 20, the CI budget) one after the other, on a scratch copy of its seed corpus
# plus the regression inputs (the repository's corpus is never modified).
# Prints one line per target: executions, exec/s, corpus growth, findings.
# Exit 1 when any target found a crash, leak, timeout or invariant violation;
# the reproducer path is printed: add it to tests/fuzz/regress/<target>/ once
# the bug is fixed (tests/fuzz/README in docs/RELIABILITY.md).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${GS_FUZZ_BUILD:-$src/build-fuzz}
secs=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "run-fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
command -v clang >/dev/null || { echo "run-fuzz.sh: clang not found (apt-get install clang libclang-rt-dev)" >&2; exit 2; }

# Only the fuzz targets and what they link are needed: leave the other test dirs out.
skip="tests/unit;tests/integration;tests/certs;tests/device;tests/browser;tests/coap;tests/fault"
CC=clang cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DGS_FUZZ=ON -DGS_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" \
  -DGS_SKIP="$skip" >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd "$build" && ctest -N -L fuzz | sed -n 's/^ *Test *#[0-9]*: fuzz_//p')
fi
[ ${#targets[@]} -gt 0 ] || { echo "run-fuzz.sh: no fuzz targets registered" >&2; exit 1; }
cmake --build "$build" -j"${GS_FUZZ_BUILD_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=0 total=0
printf '%-10s %8s %10s %8s %14s %s\n' target seconds execs exec/s corpus result
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
  seeds=("$src/tests/fuzz/corpus/$t")
  [ -d "$src/tests/fuzz/regress/$t" ] && seeds+=("$src/tests/fuzz/regress/$t")
  dict=()
  case "$t" in
    batch|pull) dict=(-dict="$src/tests/fuzz/json.dict") ;;
    coap) dict=(-dict="$src/tests/fuzz/coap.dict") ;;
  esac
  n0=$(find "${seeds[@]}" -type f ! -name '.*' | wc -l)
  set +e
  "$build/bin/fuzz_$t" "$work/corpus" "${seeds[@]}" "${dict[@]}" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=3 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" >"$work/fuzz.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
  n1=$(( n0 + $(find "$work/corpus" -type f | wc -l) ))
  res=ok
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    res="FINDING (rc $rc): $(ls "$work/artifacts" | head -3 | sed "s|^|$work/artifacts/|" | tr '\n' ' ')"
    fail=1
    grep -m1 -E "ERROR: |runtime error|invariant violated|Timeout|out-of-memory" "$work/fuzz.log" >&2 || tail -20 "$work/fuzz.log" >&2
  fi
  total=$(( total + ${execs:-0} ))
  printf '%-10s %8s %10s %8s %14s %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$n0->$n1" "$res"
done
echo "run-fuzz.sh: ${#targets[@]} targets, $total executions in total; logs in $build/fuzz-work/<target>/fuzz.log"
exit $fail
