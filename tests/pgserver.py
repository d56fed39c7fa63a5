"""A throwaway PostgreSQL server for the test session: initdb in a temp folder, loopback only.

initdb refuses to run as root, so under root the server's files belong to an unprivileged
user (`nobody`) and initdb / pg_ctl run as that user. The server listens on 127.0.0.1 on a
free port, trusts local connections (it is a test server that lives for one session) and
is stopped and deleted at the end. `DDAUDIT_TEST_POSTGRES` (a URL of an existing server's
maintenance database) skips all of that and uses that server instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV_URL = "DDAUDIT_TEST_POSTGRES"
RUN_AS = "nobody"
TEST_USER = "ddaudit"
_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
             "-c max_connections=60 -c shared_buffers=32MB")


class PgUnavailable(Exception):
    """The test server cannot be had; str() says why (shown as the skip reason)."""


@dataclass
class PgServer:
    """A running PostgreSQL: where it listens and how to make databases on it."""

    base_url: str  # URL of the maintenance database ('postgres')
    root: Path | None = None  # temp folder of a server we started
    bindir: Path | None = None
    uid: int | None = None
    gid: int | None = None
    created: list[str] = field(default_factory=list)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this server."""
        return make_url(self.base_url).set(database=database).render_as_string(
            hide_password=False)

    def create_database(self, name: str) -> str:
        """Create (or re-create) an empty database and return its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(name)
        engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return self.url(name)

    def stop(self) -> None:
        """Stop a server we started and delete its folder; drop what we made on another."""
        if self.root is None:
            engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                for name in dict.fromkeys(self.created):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()
            return
        assert self.bindir is not None
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
              "-w", "stop"], self, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl (or on PATH)."""
    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in candidates:
        bindir = Path(folder)
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], server: PgServer, *, check: bool = True,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC", "HOME": str(server.root)}
    result = subprocess.run(argv, user=server.uid, group=server.gid, env=env,
                            cwd=server.root, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise PgUnavailable(f"{Path(argv[0]).name} failed: {detail[-1] if detail else '?'}")
    return result


def start_server() -> PgServer:
    """Start a private server (or use $DDAUDIT_TEST_POSTGRES); raise PgUnavailable if not."""
    if os.environ.get(ENV_URL):
        server = PgServer(base_url=os.environ[ENV_URL])
        _probe(server)
        return server
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) under "
                            "/usr/lib/postgresql/*/bin; run scripts/ensure-postgres.sh as root "
                            "or apt-get install postgresql")
    uid = gid = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(RUN_AS)
        except KeyError:
            raise PgUnavailable(f"running as root and there is no '{RUN_AS}' user to run "
                                "initdb as") from None
        uid, gid = entry.pw_uid, entry.pw_gid
    root = Path(tempfile.mkdtemp(prefix="ddaudit-pg-"))
    port = free_port()
    server = PgServer(base_url=f"postgresql+psycopg://{TEST_USER}@127.0.0.1:{port}/postgres",
                      root=root, bindir=bindir, uid=uid, gid=gid)
    try:
        if uid is not None:
            os.chown(root, uid, gid or 0)
        _run([str(bindir / "initdb"), "-D", str(root / "data"), "-U", TEST_USER, "-A", "trust",
              "-E", "UTF8", "--no-locale", "--no-sync"], server)
        _run([str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"),
              "-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k {root} {_SETTINGS}",
              "start"], server, timeout=90)
        _probe(server)
    except BaseException as exc:
        log = root / "log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        server.stop()
        if isinstance(exc, PgUnavailable | OSError | subprocess.SubprocessError):
            raise PgUnavailable(f"{exc}{' / ' + tail[0] if tail else ''}") from exc
        raise
    return server


def _probe(server: PgServer) -> None:
    try:
        engine = create_engine(server.base_url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or connection failure means "unavailable"
        raise PgUnavailable(f"cannot connect to the test server: "
                            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
