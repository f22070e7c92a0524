#!/usr/bin/env bash
# Build the Lambda packages the Terraform module deploys:
#   dist/aws/x86_64/bootstrap.zip and dist/aws/arm64/bootstrap.zip
# with cargo-lambda (from PyPI, into .venv; it brings zig, which links against the glibc of
# provided.al2023 for either architecture, so no aarch64 cross gcc or sysroot is needed — the
# reason it is preferred to Debian's gcc-aarch64-linux-gnu, which links against the build
# machine's newer glibc). arm64 also needs the Rust standard library for
# aarch64-unknown-linux-gnu: the script adds it with rustup when it is missing. When rustup
# cannot fetch it (offline), only x86_64 is built and the script fails saying so, so a missing
# package never goes unnoticed (deploy x86_64 with architecture = "x86_64").
#
# A cross release build is large: `cargo clean --release --target aarch64-unknown-linux-gnu`
# frees its target directory afterwards (PACKAGE_CLEAN=1 does it here).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
test -x .venv/bin/python || python3 -m venv .venv
if [ ! -x .venv/bin/cargo-lambda ]; then
  echo "package-aws: installing cargo-lambda into .venv"
  .venv/bin/pip install -q 'cargo-lambda>=1,<2'
fi
export PATH="$root/.venv/bin:$PATH"
build() { # arch flag, dist dir
  local flag="$1" out="dist/aws/$2"
  cargo lambda build --release --locked -p cadet-aws-lambda --bin bootstrap "$flag" \
    --output-format zip --lambda-dir "target/lambda-$2"
  mkdir -p "$out"
  cp "target/lambda-$2/bootstrap/bootstrap.zip" "$out/bootstrap.zip"
  echo "package-aws: $out/bootstrap.zip ($(du -h "$out/bootstrap.zip" | cut -f1))"
}
build --x86-64 x86_64
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  echo "package-aws: adding the aarch64-unknown-linux-gnu standard library (rustup target add)"
  rustup target add aarch64-unknown-linux-gnu || true
fi
if rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  build --arm64 arm64
  if [ "${PACKAGE_CLEAN:-0}" = 1 ]; then
    cargo clean --release --target aarch64-unknown-linux-gnu
  fi
else
  echo "package-aws: arm64 not built: 'rustup target add aarch64-unknown-linux-gnu' failed (offline?); re-run when it can" >&2
  echo "package-aws: (or deploy x86_64: terraform variable architecture = \"x86_64\")" >&2
  exit 1
fi
