"""The evidence manifest: SHA-256 and size of every file, the chain link, an Ed25519 signature.

`verify_bundle` is `ddaudit verify`: it names every tampered, missing or unlisted file, a
broken chain link and a bad signature. The signature covers the exact bytes of
manifest.json; manifest.sig holds it base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.errors import ConfigError

SCHEMA = "ddaudit.manifest/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class PreviousLink:
    """The previous scan's bundle: its id and its manifest's SHA-256 (None: not found).

    `path`: where its manifest is from this bundle, when not the sibling folder
    `../<scan id>/manifest.json` (a remediation folder's is `../../<scan id>/...`).
    """

    scan_id: str
    manifest_sha256: str | None
    path: str | None = None


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted PEM Ed25519 private key readable only by its owner; ConfigError else."""
    where = f"[evidence] signing_key {path}"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from exc
    if mode & 0o077:
        raise ConfigError(f"{where}: readable by others (mode {mode:o}); run chmod 600 on it")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{where}: not an unencrypted PEM private key; make one with "
            "`openssl genpkey -algorithm ed25519 -out KEY`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where}: not an Ed25519 key; use `openssl genpkey -algorithm ed25519`")
    return key


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def render_manifest(
    scan_id: str,
    files: Mapping[str, tuple[str, int]],
    previous: PreviousLink | None,
    key: Ed25519PrivateKey | None,
    extra: Mapping[str, object] | None = None,
) -> tuple[bytes, bytes | None]:
    """Return (manifest.json bytes, manifest.sig bytes or None); Ed25519 is deterministic.

    `files` maps every file of the bundle but these two to its (SHA-256, size) as written;
    `extra` adds members after `scan_id` (a remediation folder's `kind` and `plan_id`).
    """
    entries = [
        {"path": name, "sha256": files[name][0], "size": files[name][1]}
        for name in sorted(files)
    ]
    signature: dict[str, str] | None = None
    if key is not None:
        pub = public_key_b64(key.public_key())
        signature = {
            "algorithm": "Ed25519",
            "file": SIGNATURE,
            "public_key": pub,
            "key_id": sha256_hex(base64.b64decode(pub)),
        }
    document = {
        "schema": SCHEMA,
        "scan_id": scan_id,
        **(extra or {}),
        "files": entries,
        "previous": None if previous is None else {
            "scan_id": previous.scan_id,
            "manifest": previous.path or f"../{previous.scan_id}/{MANIFEST}",
            "manifest_sha256": previous.manifest_sha256,
        },
        "signature": signature,
    }
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    sig = None if key is None else base64.b64encode(key.sign(data)) + b"\n"
    return data, sig


def previous_link(out_root: Path, previous_scan_id: str | None) -> PreviousLink | None:
    """The link to the previous scan's bundle under the same output root."""
    if previous_scan_id is None:
        return None
    try:
        data = (out_root / previous_scan_id / MANIFEST).read_bytes()
    except OSError:
        return PreviousLink(previous_scan_id, None)
    return PreviousLink(previous_scan_id, sha256_hex(data))


@dataclass
class Verification:
    """What `ddaudit verify` found: problems make it fail; notes are said but do not."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing was tampered, missing, unlisted or wrongly signed."""
        return not self.problems

    def render(self) -> str:
        """Lines for the terminal: each problem, each note, then the verdict."""
        lines = [f"FAIL {p}" for p in self.problems] + [f"note: {n}" for n in self.notes]
        verdict = "OK" if self.ok else "TAMPERED"
        lines.append(f"{verdict}: {self.folder}: {self.checked} files checked, "
                     f"{len(self.problems)} problems")
        return "\n".join(lines) + "\n"


def verify_bundle(folder: Path, public_key: Path | None = None) -> Verification:
    """Check every hash and size, unlisted files, the chain link and the signature."""
    result = Verification(folder)
    try:
        raw = (folder / MANIFEST).read_bytes()
    except OSError:
        result.problems.append(f"missing: {MANIFEST} (nothing can be verified)")
        return result
    try:
        manifest = json.loads(raw)
        entries = manifest["files"]
        if manifest.get("schema") != SCHEMA or not isinstance(entries, list):
            raise ValueError("schema")
    except (ValueError, KeyError, TypeError):
        result.problems.append(f"tampered: {MANIFEST} is not a {SCHEMA} document")
        return result
    listed = _check_files(folder, entries, result)
    _check_unlisted(folder, listed, result)
    _check_chain(folder, manifest.get("previous"), result)
    _check_signature(folder, raw, manifest.get("signature"), public_key, result)
    return result


def _check_files(folder: Path, entries: list[object], result: Verification) -> set[str]:
    listed: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            result.problems.append(f"tampered: {MANIFEST} has a malformed file entry")
            continue
        name = entry["path"]
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            result.problems.append(f"tampered: {MANIFEST} lists a path outside the bundle: {name}")
            continue
        listed.add(name)
        try:
            data = (folder / name).read_bytes()
        except OSError:
            result.problems.append(f"missing: {name}")
            continue
        result.checked += 1
        if sha256_hex(data) != entry.get("sha256") or len(data) != entry.get("size"):
            result.problems.append(f"tampered: {name} (SHA-256 or size differs from the manifest)")
    return listed


def _check_unlisted(folder: Path, listed: set[str], result: Verification) -> None:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel not in listed and rel not in (MANIFEST, SIGNATURE):
                result.problems.append(f"unlisted: {rel} (a file the manifest does not name)")


def _check_chain(folder: Path, previous: object, result: Verification) -> None:
    if previous is None:
        result.notes.append("chain: first bundle (no previous scan)")
        return
    if not isinstance(previous, dict) or not isinstance(previous.get("scan_id"), str):
        result.problems.append(f"tampered: {MANIFEST} has a malformed previous link")
        return
    prev_id, expected = previous["scan_id"], previous.get("manifest_sha256")
    path = folder.parent / prev_id / MANIFEST
    named = previous.get("manifest")
    # A link further up (a remediation folder's) is followed only in the shape it is
    # written: up some levels, then the scan's own folder.
    if isinstance(named, str) and re.fullmatch(r"(\.\./)+[^/]+/" + re.escape(MANIFEST), named) \
            and named.endswith(f"/{prev_id}/{MANIFEST}"):
        path = folder.joinpath(*named.split("/"))
    if expected is None:
        result.notes.append(f"chain: the previous bundle {prev_id} had no manifest when "
                            "this one was written; link not checkable")
        return
    try:
        actual = sha256_hex(path.read_bytes())
    except OSError:
        result.notes.append(f"chain: previous bundle {path} not found here; link not checked")
        return
    if actual != expected:
        result.problems.append(f"chain: {path} differs from the SHA-256 recorded here "
                               "(the previous bundle was changed)")
    else:
        result.notes.append(f"chain: previous bundle {prev_id} matches")


def _check_signature(folder: Path, raw: bytes, signature: object, public_key: Path | None,
                     result: Verification) -> None:
    if signature is None:
        if public_key is not None:
            result.problems.append("signature: the bundle is not signed but a key was given")
        else:
            result.notes.append("signature: the bundle is not signed")
        return
    if not isinstance(signature, dict) or not isinstance(signature.get("public_key"), str):
        result.problems.append(f"tampered: {MANIFEST} has a malformed signature block")
        return
    try:
        sig = base64.b64decode((folder / SIGNATURE).read_bytes().strip(), validate=True)
    except OSError:
        result.problems.append(f"missing: {SIGNATURE}")
        return
    except (binascii.Error, ValueError):
        result.problems.append(f"tampered: {SIGNATURE} is not base64")
        return
    try:
        if public_key is not None:
            key = _load_public(public_key)
            if public_key_b64(key) != signature["public_key"]:
                result.problems.append("signature: signed by a different key than the one given")
                return
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
            result.notes.append("signature: checked against the key named in the manifest; "
                                "pass --public-key to pin the signer")
        key.verify(sig, raw)
    except InvalidSignature:
        result.problems.append(f"signature: {SIGNATURE} does not match {MANIFEST}")
    except (ValueError, binascii.Error):
        result.problems.append(f"tampered: {MANIFEST} names a malformed public key")


def _load_public(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or the public half of a PEM private key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--public-key {path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        key: object = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--public-key {path}: not a PEM Ed25519 key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"--public-key {path}: not an Ed25519 key")
    return key
