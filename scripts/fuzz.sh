#!/usr/bin/env bash
# Build every cargo-fuzz target (nightly, libFuzzer) and run each for SECONDS, seeded from
# events/ and policy/; prints a summary line per target (executions, coverage, corpus size).
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (`make fuzz`, `make fuzz-smoke`)
# A crash stops the run with the reproducer in fuzz/artifacts/TARGET/; turn it into a
# regression test before fixing it (see fuzz/README.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:?usage: fuzz.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(split normalize score policy azure_request)
# cargo-fuzz from the clone's own .tools/ (make fuzz-tools), and the nightly toolchain it needs.
export PATH="$root/.tools/bin:$PATH"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
cd "$root/fuzz"
cargo +"$toolchain" fuzz build
seed() { # seed TARGET: the corpus directory, filled from the samples once
  local dir="corpus/$1"
  mkdir -p "$dir"
  if [ -z "$(ls -A "$dir")" ]; then
    case "$1" in
      policy) cp "$root"/policy/*.toml "$dir"/ ;;
      azure_request)
        for f in "$root"/events/azure/*.json; do
          n="$(basename "$f" .json)"
          { printf '\x01'; cat "$f"; } >"$dir/eventgrid-$n"
          { printf '\x00{"Data":{"eventGridEvent":'; cat "$f"; printf '},"Metadata":{}}'; } >"$dir/detect-$n"
        done ;;
      *) cp "$root"/events/aws/*.json "$root"/events/azure/*.json "$dir"/
         # A Records document, NDJSON and gzip of the samples too.
         { printf '{"Records":['; sep=""; for f in "$root"/events/aws/*.json; do printf '%s' "$sep"; tr -d '\n' <"$f"; sep=","; done; printf ']}'; } >"$dir/records-doc"
         for f in "$root"/events/azure/*.json; do tr -d '\n' <"$f"; echo; done >"$dir/ndjson"
         gzip -c "$dir/ndjson" >"$dir/ndjson.gz" ;;
    esac
  fi
}
printf '%-14s %8s %10s %8s %8s %7s\n' target seconds execs exec/s cov corpus
for t in "${targets[@]}"; do
  seed "$t"
  log="$(mktemp)"
  if ! cargo +"$toolchain" fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $t failed: reproducer in fuzz/artifacts/$t/" >&2
    rm -f "$log"
    exit 1
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)"
  printf '%-14s %8s %10s %8s %8s %7s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$(ls "corpus/$t" | wc -l)"
  rm -f "$log"
done
