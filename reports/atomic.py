"""Atomic bundle writing: stage every file as a private temp file, then rename them into place.

Nothing in the bundle changes until every file has been rendered: a rendering bug or a
full disk while staging leaves the previous bundle as it was, and no temp file behind.
Each file is hashed (SHA-256) and measured while it is written, so the manifest never
needs the whole file in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import NamedTuple

from scanner.errors import OutputError

DIR_MODE = 0o700
FILE_MODE = 0o600  # the files are security evidence: owner only
TEMP_SUFFIX = ".tmp"


class Written(NamedTuple):
    """A file as written: its hex SHA-256 and its size in bytes."""

    sha256: str
    size: int


class Staging:
    """Temp files beside their targets in `out_dir`, renamed into place by `commit`.

    Use as a context manager: an exception inside it removes every temp file still staged
    and every folder it created (when empty).
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._staged: dict[str, Path] = {}  # bundle path -> temp file
        self._created: list[Path] = []  # folders made here, removed again on abort
        self._known: set[Path] = set()

    def __enter__(self) -> Staging:
        self._folder(self.out_dir)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is not None:
            self.abort()

    def write(self, path: str, chunks: Iterable[bytes]) -> Written:
        """Stream `chunks` into a 0o600 temp file for bundle path `path`; say what was written."""
        if path in self._staged:
            raise ValueError(f"two renderers write {path}")
        target = self.out_dir / _checked(path)
        folder = self._folder(target.parent)
        digest, size = hashlib.sha256(), 0
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
            self._staged[path] = Path(tmp)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), FILE_MODE)
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise output_error(folder, f"{target.name}: {exc.strerror or exc}") from exc
        return Written(digest.hexdigest(), size)

    def remove_stale(self, patterns: Iterable[str]) -> None:
        """Delete files matching `patterns` (globs in the bundle) this export does not write.

        Temp files a killed export left in the bundle's folders go too.
        """
        root = self.out_dir.absolute()  # mkstemp may answer absolute paths for relative ones
        stale = {p for pattern in patterns for p in root.glob(pattern)}
        for folder in {root, *(root / p for p in map(_parent, self._staged))}:
            stale.update(folder.glob(f".*{TEMP_SUFFIX}"))
        keep = {root / p for p in self._staged} | {t.absolute() for t in self._staged.values()}
        for path in sorted(stale - keep):
            if path.is_file():
                try:
                    path.unlink()
                except OSError as exc:
                    raise output_error(self.out_dir,
                                       f"{path.name}: {exc.strerror or exc}") from exc

    def commit(self, order: Sequence[str]) -> None:
        """Rename every staged file into place in `order`, each made durable before the next."""
        if sorted(order) != sorted(self._staged):
            raise ValueError("commit must name every staged file once")
        for path in order:
            tmp, target = self._staged[path], self.out_dir / path
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise output_error(target.parent, f"{target.name}: {exc.strerror or exc}") from exc
            del self._staged[path]
            _fsync_dir(target.parent)

    def abort(self) -> None:
        """Remove every temp file still staged and the folders this staging created, if empty."""
        for tmp in self._staged.values():
            try:
                tmp.unlink()
            except OSError:
                pass
        self._staged.clear()
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                pass

    def _folder(self, folder: Path) -> Path:
        if folder not in self._known:
            if folder != self.out_dir:
                self._folder(folder.parent)
            if make_dir(folder):
                self._created.append(folder)
            self._known.add(folder)
        return folder


def make_dir(folder: Path) -> bool:
    """Create `folder` with mode 0o700 (whatever the umask); True when it was created here."""
    try:
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=False)
    except FileExistsError:
        if not folder.is_dir():
            raise output_error(folder, "it exists and is not a folder") from None
        return False  # an existing folder keeps its mode; the files inside are 0o600 anyway
    except OSError as exc:
        raise output_error(folder, exc.strerror or str(exc)) from exc
    try:
        os.chmod(folder, DIR_MODE)  # the umask may have removed bits we asked for
    except OSError as exc:
        raise output_error(folder, exc.strerror or str(exc)) from exc
    return True


def output_error(folder: Path, reason: str) -> OutputError:
    """The one-line error for a folder the reports cannot be written to."""
    return OutputError(
        f"cannot write reports to {folder}: {reason}; check the folder and [scan] output"
    )


def _checked(path: str) -> PurePosixPath:
    """A bundle path: relative, inside the bundle, in POSIX form."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or ".." in pure.parts or pure.as_posix() != path:
        raise ValueError(f"not a path inside the bundle: {path!r}")
    return pure


def _parent(path: str) -> str:
    return PurePosixPath(path).parent.as_posix()


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; not every platform lets a folder be opened, so best effort."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
