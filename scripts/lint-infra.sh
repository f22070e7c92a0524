#!/usr/bin/env bash
# Lint the Terraform under infra/: formatting, then checkov with zero failed checks.
# Run from anywhere; paths are relative to the repository root. Offline: `terraform fmt` needs no
# providers and checkov runs with --skip-download. Every checkov skip is an inline
# `#checkov:skip=CKV_...:reason` inside the resource it applies to.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v terraform >/dev/null 2>&1; then
  echo "lint-infra: terraform not found on PATH" >&2
  exit 1
fi

echo "lint-infra: terraform fmt -check -recursive infra"
if ! terraform fmt -check -recursive -diff infra; then
  echo "lint-infra: run 'terraform fmt -recursive infra'" >&2
  exit 1
fi

# checkov lives in the project's own virtualenv (installed once, ~2 minutes).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -x .venv/bin/checkov ]; then
  echo "lint-infra: installing checkov into .venv"
  .venv/bin/pip install -q 'checkov>=3,<4'
fi

echo "lint-infra: checkov -d infra --framework terraform"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
.venv/bin/checkov -d infra --framework terraform --skip-download --quiet --compact \
  >"$report" 2>&1 || status=$?
cat "$report"

summary="$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+' "$report" || true)"
if [ -z "$summary" ]; then
  echo "lint-infra: checkov produced no summary (exit $status)" >&2
  exit 1
fi
failed="$(sed -E 's/.*Failed checks: ([0-9]+).*/\1/' <<<"$summary" | head -n1)"
if [ "$status" -ne 0 ] || [ "$failed" != "0" ]; then
  echo "lint-infra: checkov reported $failed failed check(s) (exit $status)" >&2
  exit 1
fi
echo "lint-infra: ok"
