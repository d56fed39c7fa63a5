"""manifest.json (and manifest.sig when a signing key is set): the seal of the bundle."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reports.formats.base import Phase, Renderer, RenderInput
from reports.manifest import MANIFEST, SIGNATURE, render_manifest


class Manifest(Renderer):
    """manifest.json lists every file written before it; manifest.sig signs its exact bytes."""

    name = "manifest"
    phase = Phase.SEAL
    stale = (SIGNATURE,)  # an unsigned re-export drops the old signature

    def paths(self, inp: RenderInput) -> Sequence[str]:
        """manifest.json, and manifest.sig when signing."""
        return (MANIFEST,) if inp.signing_key is None else (MANIFEST, SIGNATURE)

    def render(self, path: str, inp: RenderInput) -> Iterator[bytes]:
        """The manifest or its signature (Ed25519 is deterministic: both agree)."""
        scan_id = inp.ctx.report.scan.id
        manifest, signature = render_manifest(scan_id, inp.written, inp.previous,
                                              inp.signing_key)
        yield manifest if path == MANIFEST else (signature or b"")
