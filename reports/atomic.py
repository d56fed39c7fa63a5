"""Atomic bundle writing: stage every file as a private temp file, then rename them into place.

Nothing in the bundle changes until every file has been rendered: a rendering bug or a
full disk while staging leaves the previous bundle as it was, and no temp file behind.
Each file is hashed (SHA-256) and measured while it is written, so the manifest never
needs the whole file in memory. Several files may be open at once (the findings files are
written from one read of the findings); each is made durable (fsync) on a helper thread
while the next is rendered, and every fsync has finished before the first rename. (Hashing
and writing on a thread too was measured slower: the GIL hand-overs cost more than they
save.)
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from io import BufferedWriter
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


class StagedFile:
    """One bundle file being written: hashed and measured as its chunks arrive."""

    def __init__(self, staging: Staging, target: Path, fd: int) -> None:
        self._staging = staging
        self._target = target
        self._fh = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, chunk: bytes) -> None:
        """Append `chunk` to the file."""
        self._digest.update(chunk)
        self._size += len(chunk)
        try:
            self._fh.write(chunk)
        except OSError as exc:
            raise self._staging.failed(self._target, exc) from exc

    def close(self) -> Written:
        """Finish the file (made durable in the background); say what was written."""
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._staging.failed(self._target, exc) from exc
        self._staging.settle_later(self, self._target, self._fh)
        return Written(self._digest.hexdigest(), self._size)

    def discard(self) -> None:
        """Close the file without finishing it (the staging is being aborted)."""
        try:
            self._fh.close()
        except OSError:
            pass  # it is removed next


class Staging:
    """Temp files beside their targets in `out_dir`, renamed into place by `commit`.

    Use as a context manager: an exception inside it removes every temp file still staged
    and every folder it created (when empty). Leaving it without an exception waits for
    every file to be durable, and raises OutputError (after the same clean-up) when one
    could not be.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._staged: dict[str, Path] = {}  # bundle path -> temp file
        self._created: list[Path] = []  # folders made here, removed again on abort
        self._known: set[Path] = set()
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="ddaudit-fsync")
        self._syncing: list[tuple[Path, Future[None]]] = []
        self._open: set[StagedFile] = set()  # opened, not yet closed

    def __enter__(self) -> Staging:
        self._folder(self.out_dir)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._settle()
        except BaseException:
            self.abort()
            raise
        finally:
            if kind is not None:
                self.abort()
            self._syncer.shutdown(wait=True)

    def open(self, path: str) -> StagedFile:
        """A new 0o600 temp file for bundle path `path`, to `write` chunks to and `close`."""
        if path in self._staged:
            raise ValueError(f"two renderers write {path}")
        target = self.out_dir / _checked(path)
        folder = self._folder(target.parent)
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
            self._staged[path] = Path(tmp)
            os.fchmod(fd, FILE_MODE)
        except OSError as exc:
            raise self.failed(target, exc) from exc
        staged = StagedFile(self, target, fd)
        self._open.add(staged)
        return staged

    def write(self, path: str, chunks: Iterable[bytes]) -> Written:
        """Stream `chunks` into a 0o600 temp file for bundle path `path`; say what was written."""
        staged = self.open(path)
        for chunk in chunks:
            staged.write(chunk)
        return staged.close()

    def settle_later(self, staged: StagedFile, target: Path, fh: BufferedWriter) -> None:
        """fsync and close `fh` (the temp file of `target`) on the helper thread."""
        self._open.discard(staged)

        def settle() -> None:
            try:
                os.fsync(fh.fileno())
            finally:
                fh.close()

        self._syncing.append((target, self._syncer.submit(settle)))

    def failed(self, target: Path, exc: OSError) -> OutputError:
        """The OutputError for a file of the bundle that could not be written."""
        return output_error(target.parent, f"{target.name}: {exc.strerror or exc}")

    def _settle(self) -> None:
        """Wait until every closed file is durable; OutputError for the first that is not."""
        syncing, self._syncing = self._syncing, []
        problem: OutputError | None = None
        for target, future in syncing:
            exc = future.exception()
            if isinstance(exc, OSError) and problem is None:
                problem = self.failed(target, exc)
            elif exc is not None and problem is None:
                raise exc
        if problem is not None:
            raise problem

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
        self._settle()
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
        for staged in self._open:
            staged.discard()
        self._open.clear()
        for _target, future in self._syncing:
            future.exception()  # wait: the file is closed once its fsync is done or failed
        self._syncing.clear()
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
