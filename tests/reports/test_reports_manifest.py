"""The evidence bundle's integrity: manifest, byte-identical re-export, chain, signature, verify."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from report_seed import OTHER_SCAN_ID, SCAN_ID, MakeStore
from sqlalchemy import Engine

from reports import write_reports
from reports.manifest import sha256_hex, verify_bundle
from scanner.errors import ConfigError


def _key(path: Path, seed: bytes = b"k" * 32, mode: int = 0o600) -> Path:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, mode)
    return path


def _public(path: Path, private: Path) -> Path:
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_manifest_lists_every_file_with_hash_and_size(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out" / SCAN_ID
    write_reports(store, SCAN_ID, out)
    manifest = json.loads((out / "manifest.json").read_text())
    files = _files(out)
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry == {"path": name, "sha256": sha256_hex(files[name]), "size": len(files[name])}
    assert manifest["signature"] is None and not (out / "manifest.sig").exists()
    # The previous scan has no bundle under this root: the link names it, with no hash.
    assert manifest["previous"] == {"scan_id": OTHER_SCAN_ID,
                                    "manifest": f"../{OTHER_SCAN_ID}/manifest.json",
                                    "manifest_sha256": None}
    assert verify_bundle(out).ok


def test_re_export_is_byte_identical_even_signed(store: Engine, tmp_path: Path) -> None:
    key = _key(tmp_path / "k.pem")
    write_reports(store, SCAN_ID, tmp_path / "a" / SCAN_ID, signing_key=key)
    write_reports(store, SCAN_ID, tmp_path / "b" / SCAN_ID, signing_key=key)
    first, second = _files(tmp_path / "a" / SCAN_ID), _files(tmp_path / "b" / SCAN_ID)
    assert first == second and "manifest.sig" in first


def test_chain_links_to_the_previous_bundle(store: Engine, tmp_path: Path) -> None:
    root = tmp_path / "out"
    write_reports(store, OTHER_SCAN_ID, root / OTHER_SCAN_ID)
    write_reports(store, SCAN_ID, root / SCAN_ID)
    previous = json.loads((root / SCAN_ID / "manifest.json").read_text())["previous"]
    expected = sha256_hex((root / OTHER_SCAN_ID / "manifest.json").read_bytes())
    assert previous["manifest_sha256"] == expected
    result = verify_bundle(root / SCAN_ID)
    assert result.ok and any("matches" in n for n in result.notes)
    # Rewriting history breaks the link.
    old = root / OTHER_SCAN_ID / "manifest.json"
    old.write_bytes(old.read_bytes().replace(b'"schema"', b'"schema" ', 1))
    result = verify_bundle(root / SCAN_ID)
    assert not result.ok and any(p.startswith("chain:") for p in result.problems)


def test_verify_names_tampered_missing_and_unlisted_files(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / SCAN_ID
    write_reports(store, SCAN_ID, out)
    csv_path = out / "findings.csv"
    csv_path.write_bytes(csv_path.read_bytes().replace(b"open", b"shut"))
    (out / "listings" / "users.csv").unlink()
    (out / "listings" / "extra.csv").write_text("planted\n")
    result = verify_bundle(out)
    assert not result.ok
    assert sorted(result.problems) == [
        "missing: listings/users.csv",
        "tampered: findings.csv (SHA-256 or size differs from the manifest)",
        "unlisted: listings/extra.csv (a file the manifest does not name)",
    ]
    assert "TAMPERED" in result.render()


def test_signature_verifies_and_detects_a_forged_manifest(store: Engine, tmp_path: Path) -> None:
    key = _key(tmp_path / "k.pem")
    out = tmp_path / SCAN_ID
    write_reports(store, SCAN_ID, out, signing_key=key)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["signature"]["algorithm"] == "Ed25519"
    assert len(base64.b64decode((out / "manifest.sig").read_bytes())) == 64
    pub = _public(tmp_path / "k.pub", key)
    assert verify_bundle(out, pub).ok
    # A forger who edits a file and rewrites its hash in the manifest cannot re-sign it.
    report = out / "report.html"
    report.write_bytes(report.read_bytes() + b"<!-- edited -->")
    entry = next(e for e in manifest["files"] if e["path"] == "report.html")
    entry["sha256"], entry["size"] = sha256_hex(report.read_bytes()), report.stat().st_size
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result = verify_bundle(out, pub)
    assert result.problems == ["signature: manifest.sig does not match manifest.json"]
    # Pinning the signer catches a bundle re-signed with another key.
    other = _public(tmp_path / "other.pub", _key(tmp_path / "o.pem", b"o" * 32))
    assert "signed by a different key" in verify_bundle(out, other).problems[0]
    (out / "manifest.sig").unlink()
    assert "missing: manifest.sig" in verify_bundle(out, pub).problems


def test_signing_key_must_be_private_to_its_owner(store: Engine, tmp_path: Path) -> None:
    key = _key(tmp_path / "k.pem", mode=0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        write_reports(store, SCAN_ID, tmp_path / "out", signing_key=key)
    (tmp_path / "bad.pem").write_text("not a key")
    os.chmod(tmp_path / "bad.pem", 0o600)
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        write_reports(store, SCAN_ID, tmp_path / "out", signing_key=tmp_path / "bad.pem")
    assert not (tmp_path / "out").exists()


def test_unsigned_re_export_drops_a_stale_signature(store: Engine, tmp_path: Path) -> None:
    out = tmp_path / SCAN_ID
    write_reports(store, SCAN_ID, out, signing_key=_key(tmp_path / "k.pem"))
    write_reports(store, SCAN_ID, out)
    assert not (out / "manifest.sig").exists() and verify_bundle(out).ok


def test_cli_verify_exit_codes(make_store: MakeStore, tmp_path: Path) -> None:
    engine = make_store()
    out = tmp_path / SCAN_ID
    write_reports(engine, SCAN_ID, out)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner.cli", "verify", str(out)],
                              capture_output=True, text=True, timeout=60)

    ok = run()
    assert ok.returncode == 0 and "OK:" in ok.stdout, ok.stderr
    (out / "run.json").write_text("{}")
    bad = run()
    assert bad.returncode == 1 and "tampered: run.json" in bad.stdout
