"""Backup and restore (DOMAIN.md §9): shared by the `backup` and `restore` commands.

A backup is a folder holding ``database.dump`` (pg_dump custom format), ``attachments/`` (a copy of the
attachment storage, sparse files kept sparse) and ``manifest.json`` (every file with its size and SHA-256,
the migration state, the time and the IP2A version).

With the attachments in an S3 bucket (ATTACHMENTS_S3_BUCKET) a backup holds the database only, and its manifest
names the bucket: the files stay in the bucket, whose versioning (and replication) protect them. Copying a
whole bucket through this machine on every backup would not scale, and a restore cannot roll a bucket back.
"""

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.db import connection

from attachments.storage import describe, is_bucket, local_root
from ip2a import embedded

MANIFEST = "manifest.json"
DUMP = "database.dump"
ATTACHMENTS = "attachments"
FORMAT = 1
CHUNK = 1 << 20  # read size
BLOCK = 1 << 16  # an all-zero block of this size is written as a hole
ZEROS = bytes(CHUNK)


class BackupError(Exception):
    """A backup or restore step failed; the message says which and why."""


def pg_tool(name: str) -> str:
    """The client program ``name`` matching the server: the embedded server's own, else the one on PATH."""
    if embedded.is_attached():
        path = embedded.bin_dir() / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} was not found on PATH; install the PostgreSQL client programs.")
    return found


def pg_env() -> dict[str, str]:
    """The environment that points libpq programs at Django's database (the password never on a command line)."""
    db = connection.settings_dict
    env = {**os.environ}
    for key, name in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGDATABASE", "NAME")):
        if db.get(name):
            env[key] = str(db[name])
    env.pop("PGPASSWORD", None)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    options = db.get("OPTIONS") or {}
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return env


def attachments_bucket() -> str | None:
    """``s3://bucket/prefix/`` when the attachment files live in a bucket (backups then leave them out), else None."""
    storage = storages["attachments"]
    return describe(storage) if is_bucket(storage) else None


def attachments_root() -> Path:
    """The local folder of the attachment storage, whose files a backup copies."""
    root = local_root(storages["attachments"])
    if root is None:
        raise BackupError("Backup and restore need the attachments storage in a local folder or an S3 bucket.")
    return root


def copy_sparse(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` leaving holes (and all-zero blocks) unwritten; return the SHA-256."""
    digest = hashlib.sha256()
    with open(source, "rb") as fin, open(target, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                data = os.lseek(fin.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: only a hole remains
                    raise
                data = size
            _feed_zeros(digest, data - offset)
            if data >= size:
                break
            hole = os.lseek(fin.fileno(), data, os.SEEK_HOLE)
            fin.seek(data)
            position = data
            while position < hole:
                chunk = fin.read(min(CHUNK, hole - position))
                if not chunk:
                    break
                digest.update(chunk)
                for start in range(0, len(chunk), BLOCK):
                    block = chunk[start : start + BLOCK]
                    if block.count(0) != len(block):
                        fout.seek(position + start)
                        fout.write(block)
                position += len(chunk)
            offset = hole
        fout.truncate(size)
    shutil.copystat(source, target)
    return digest.hexdigest()


def _feed_zeros(digest, count: int) -> None:
    while count > 0:
        step = min(count, CHUNK)
        digest.update(ZEROS[:step])
        count -= step


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def copy_tree(source: Path, target: Path, progress=None) -> list[dict]:
    """Copy every regular file under ``source`` into ``target`` (sparse); return manifest entries whose paths
    are relative to ``target``'s parent (``attachments/…``)."""
    entries = []
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return entries
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            src = Path(folder) / name
            if not src.is_file() or src.is_symlink():
                continue
            dst = target / relative / name
            sha = copy_sparse(src, dst)
            entries.append({"path": str(dst.relative_to(target.parent)), "size": dst.stat().st_size, "sha256": sha})
            if progress:
                progress(entries[-1])
    return entries


def migration_state() -> dict[str, str]:
    """The latest applied migration of every app, from django_migrations."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
        return dict(cursor.fetchall())


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def write_manifest(
    folder: Path, *, created_at: str, run_id: int, dump: dict, files: list[dict], bucket: str | None = None
) -> dict:
    manifest = {
        "format": FORMAT,
        "ip2a_version": settings.IP2A_VERSION,
        "created_at": created_at,
        "run_id": run_id,
        "environment": settings.IP2A_ENV,
        "database": {"name": connection.settings_dict["NAME"], "server_version": server_version(), **dump},
        "migrations": migration_state(),
        "files": [dump, *files],
    }
    if bucket:
        manifest["attachments_bucket"] = bucket  # the files are not in this backup: they stay there
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def verify(folder: Path) -> tuple[dict | None, list[str]]:
    """Check a backup folder against its manifest; return (manifest, problems). No problems means it verifies."""
    path = folder / MANIFEST
    if not folder.is_dir():
        return None, [f"{folder} is not a folder"]
    try:
        manifest = json.loads(path.read_text())
        files = {entry["path"]: entry for entry in manifest["files"]}
        dump = manifest["database"]
    except FileNotFoundError:
        return None, [f"{path} is missing"]
    except (ValueError, KeyError, TypeError) as exc:
        return None, [f"{path} is not a valid manifest ({exc.__class__.__name__}: {exc})"]
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest format {manifest.get('format')!r} is not {FORMAT}")
    if files.get(DUMP) != {"path": DUMP, "size": dump.get("size"), "sha256": dump.get("sha256")}:
        problems.append(f"the manifest's database entry does not match its {DUMP} file entry")
    for relative, entry in files.items():
        file = folder / relative
        inside = relative == DUMP or relative.startswith(f"{ATTACHMENTS}/")
        if Path(relative).is_absolute() or ".." in Path(relative).parts or not inside:
            problems.append(f"{relative}: not a path a backup holds")
        elif not file.is_file():
            problems.append(f"{relative}: missing")
        elif file.stat().st_size != entry.get("size"):
            problems.append(f"{relative}: size {file.stat().st_size} instead of {entry.get('size')}")
        elif sha256_of(file) != entry.get("sha256"):
            problems.append(f"{relative}: sha256 does not match")
    for file in sorted(folder.rglob("*")):
        relative = str(file.relative_to(folder))
        if file.is_file() and relative != MANIFEST and relative not in files:
            problems.append(f"{relative}: not in the manifest")
    return manifest, problems
