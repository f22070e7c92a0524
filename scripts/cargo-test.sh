#!/usr/bin/env bash
# `make test`'s Rust part: every test binary of the workspace (--no-fail-fast, so one failing
# binary does not hide the rest), with TMPDIR pointed at a fresh folder of its own. Afterwards
# any `cadet-*` entry left there is a test that did not clean up after itself, and fails the
# run; the folder is removed either way.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cadet-test-run.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# Traversable by other users (a test may run cadet as `nobody`), listable only by us.
chmod 711 "$tmp"
TMPDIR="$tmp" "${CARGO:-cargo}" test --workspace --locked --no-fail-fast "$@"
status=$?
left="$(cd "$tmp" && ls -d cadet-* 2>/dev/null || true)"
if [ -n "$left" ]; then
  echo "tests left these in the temporary folder (each test must remove what it writes):" >&2
  echo "$left" | sed 's/^/  /' >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
