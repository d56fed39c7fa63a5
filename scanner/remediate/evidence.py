"""The remediation evidence folder `<output>/remediation/<plan id>/` and its verification.

It holds the plan exactly as applied (plan.json, plan.md), `actions.jsonl` (one JSON line
per event, only ever appended: who approved, when, the request, the answer's status and
the outcome of each action) and manifest.json, which lists both files' SHA-256 and links
to the scan bundle's manifest (`../../<scan id>/manifest.json`) with the hash the plan
recorded; signed like the scan bundle when `[evidence] signing_key` is set. The manifest is
rewritten after every line, so the folder verifies at every moment of an apply.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reports.atomic import FILE_MODE, make_dir
from reports.manifest import (
    MANIFEST,
    SIGNATURE,
    PreviousLink,
    Verification,
    render_manifest,
    sha256_hex,
)
from scanner.errors import ConfigError, OutputError
from scanner.remediate.model import load_plan

PLAN = "plan.json"
PLAN_MD = "plan.md"
ACTIONS = "actions.jsonl"
KIND = "remediation"


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically, mode 0600, in a folder created 0700 when missing."""
    make_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}; check the folder") from exc


class EvidenceFolder:
    """One plan's evidence folder: created on the first apply, appended to by each."""

    def __init__(self, output_root: Path, plan_id: str, scan_id: str, scan_manifest_sha: str,
                 key: Ed25519PrivateKey | None) -> None:
        self.path = output_root / KIND / plan_id
        self._plan_id = plan_id
        self._previous = PreviousLink(scan_id, scan_manifest_sha, f"../../{scan_id}/{MANIFEST}")
        self._key = key

    def start(self, plan_raw: bytes, plan_md: bytes | None) -> None:
        """Copy the plan in (refused if a different plan.json is already there)."""
        existing = self.path / PLAN
        if existing.exists():
            if existing.read_bytes() != plan_raw:
                raise ConfigError(f"{self.path} holds another plan.json with this plan id; "
                                  "move it away or make a new plan")
            return
        write_private(existing, plan_raw)
        if plan_md is not None:
            write_private(self.path / PLAN_MD, plan_md)
        self.seal()

    def append(self, record: Mapping[str, Any]) -> None:
        """Append one line to actions.jsonl (fsynced), then re-seal the manifest."""
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        path = self.path / ACTIONS
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot append to {path}: {exc.strerror or exc}") from exc
        self.seal()

    def seal(self) -> None:
        """Rewrite manifest.json (and manifest.sig) over every file of the folder."""
        files: dict[str, tuple[str, int]] = {}
        for name in (PLAN, PLAN_MD, ACTIONS):
            try:
                data = (self.path / name).read_bytes()
            except FileNotFoundError:
                continue
            files[name] = (sha256_hex(data), len(data))
        manifest, signature = render_manifest(
            self._previous.scan_id, files, self._previous, self._key,
            extra={"kind": KIND, "plan_id": self._plan_id})
        if signature is not None:
            write_private(self.path / SIGNATURE, signature)
        write_private(self.path / MANIFEST, manifest)


def check_remediation(folder: Path, result: Verification) -> None:
    """`ddaudit verify` on a remediation folder, beyond the manifest's own checks.

    The plan's own SHA-256 holds; the manifest links to the scan manifest hash the plan
    recorded; every actions.jsonl line is JSON naming this plan.
    """
    try:
        plan = load_plan(folder / PLAN)
    except ConfigError as exc:
        result.problems.append(f"plan: {exc}")
        return
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
        linked = manifest["previous"]["manifest_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        linked = None
    if linked != plan.scan_manifest_sha256:
        result.problems.append("chain: the manifest does not link to the scan manifest "
                               "the plan was made from")
    try:
        lines = (folder / ACTIONS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except (OSError, UnicodeDecodeError):
        result.problems.append(f"tampered: {ACTIONS} is not readable UTF-8 text")
        return
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            result.problems.append(f"tampered: {ACTIONS} line {number} is not JSON")
            continue
        if not isinstance(record, dict) or record.get("plan_id") != plan.plan_id:
            result.problems.append(f"tampered: {ACTIONS} line {number} names another plan")
    result.notes.append(f"remediation: plan {plan.plan_id} (SHA-256 ok), "
                        f"{len(lines)} lines in {ACTIONS}")


def is_remediation(folder: Path) -> bool:
    """True when `folder` is a remediation evidence folder (it holds a plan.json)."""
    return (folder / PLAN).is_file()
