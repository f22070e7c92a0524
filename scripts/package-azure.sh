#!/usr/bin/env bash
# Build the release cadet-azure for the Linux Function App (x86_64) and zip it with host.json and
# detect/function.json into dist/azure/cadet-azure.zip, binary at the zip root with mode 0755.
#
# The Functions host images are older Debian releases than a build machine may be, so the binary
# is linked against glibc 2.28 with cargo-zigbuild (from PyPI, into .venv; it brings zig). A
# plain `cargo build` here would require this machine's glibc and fail to start in Azure with
# "GLIBC_2.3x not found".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

glibc=2.28
target=x86_64-unknown-linux-gnu
test -x .venv/bin/python || python3 -m venv .venv
if [ ! -x .venv/bin/cargo-zigbuild ]; then
  echo "package-azure: installing cargo-zigbuild into .venv"
  .venv/bin/pip install -q 'cargo-zigbuild>=0.19,<1'
fi
export PATH="$root/.venv/bin:$PATH"
# Keep nested cargo calls of cargo-zigbuild on the toolchain pinned in rust-toolchain.toml.
RUSTUP_TOOLCHAIN="$(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)"
export RUSTUP_TOOLCHAIN
cargo zigbuild --release --locked -p cadet-azure-function --bin cadet-azure --target "$target.$glibc"
bin="target/$target/release/cadet-azure"

newest="$(objdump -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1 || true)"
echo "package-azure: $bin needs ${newest:-an unknown glibc} (target glibc $glibc)"

mkdir -p dist/azure
python3 - "$bin" <<'PY'
import sys, zipfile
binary = sys.argv[1]
out = "dist/azure/cadet-azure.zip"
entries = [
    ("functions/azure-function/host.json", "host.json", 0o644),
    ("functions/azure-function/detect/function.json", "detect/function.json", 0o644),
    ("functions/azure-function/endpoint/function.json", "endpoint/function.json", 0o644),
    ("functions/azure-function/archive/function.json", "archive/function.json", 0o644),
    ("functions/azure-function/archive-queue/function.json", "archive-queue/function.json", 0o644),
    ("functions/azure-function/health-check/function.json", "health-check/function.json", 0o644),
    (binary, "cadet-azure", 0o755),
]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for src, name, mode in entries:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.create_system = 3  # Unix, so the mode is honoured
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(src, "rb") as f:
            z.writestr(info, f.read())
print(f"package-azure: {out}")
PY
