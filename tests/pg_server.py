"""A throwaway PostgreSQL server for tests: `start_postgres()` -> (url, stop).

Production runs the app database on PostgreSQL, so tests that touch the database run there
too, not only on SQLite. The server lives in a temporary folder, listens on a free port on
127.0.0.1 (and a Unix socket in the same folder), trusts every local connection and skips
fsync: it exists for one test session and is deleted by `stop`.

initdb and postgres refuse to run as root, so when the tests run as root the server runs as
the `postgres` user (via runuser) in a folder handed over to that user.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_USER = "postgres"
DIR_PREFIX = "deskflow-pg-"
OWNER_FILE = "owner.pid"  # pid of the test process that started the server
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; callers skip their PostgreSQL tests."""


def _find_bin(name: str) -> str:
    """Locate a PostgreSQL program on PATH or in Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise PostgresUnavailable(f"{name} not found on PATH or in /usr/lib/postgresql/*/bin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """Command prefix and uid/gid to run the server as, depending on who we are."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        ) from exc
    runuser = shutil.which("runuser")
    prefix = [runuser, "-u", SERVER_USER, "--"] if runuser else ["su", SERVER_USER, "-c"]
    return prefix, account.pw_uid, account.pw_gid


def _run(prefix: list[str], args: list[str]) -> None:
    # `su -c` takes one shell string; runuser and a direct run take the argument list.
    command = [*prefix, subprocess.list2cmdline(args)] if prefix[-1:] == ["-c"] else prefix + args
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _orphaned(root: Path) -> bool:
    """Whether the test process that started the server in `root` is gone.

    A folder without a readable owner file (another user's, or still being set up) is
    never judged orphaned.
    """
    try:
        owner = int((root / OWNER_FILE).read_text())
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _reap_orphans(prefix: list[str], pg_ctl: str) -> None:
    """Stop servers whose test process was killed before it could stop them.

    A pytest run killed by a timeout (SIGTERM/SIGKILL) runs neither fixture teardown nor
    atexit, so without this each such run would leave a server and its folder behind.
    """
    for root in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        if not _orphaned(root):
            continue
        with suppress(RuntimeError):
            _run(prefix, [pg_ctl, "-D", str(root / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a private PostgreSQL server; return its SQLAlchemy URL and a `stop` function.

    The URL points at the `postgres` database as superuser `postgres`; use
    `create_database(url)` for a fresh, empty database per test. `stop` is idempotent and also
    runs at interpreter exit; servers of test processes killed outright are stopped by the
    next call.
    Raises PostgresUnavailable when the server programs are missing.
    """
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    prefix, uid, gid = _as_server_user()
    _reap_orphans(prefix, pg_ctl)
    root = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    (root / OWNER_FILE).write_text(str(os.getpid()))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    try:
        _run(
            prefix,
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        _run(
            prefix,
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "start",
            ],
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        try:
            _run(prefix, [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def create_database(server_url: str) -> str:
    """Create a new empty database on the server at `server_url`; return its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    base, _, _ = server_url.rpartition("/")
    libpq_url = server_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{base}/{name}"
