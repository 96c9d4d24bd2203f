"""Writing seed rows fast: ids from each table's sequence, PostgreSQL COPY, sparse attachment files (or
objects of zeros in a bucket)."""

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import pghistory.trigger
import pgtrigger
from django.db import DatabaseError, connection, models, transaction

from attachments.models import CONTENT_TYPES
from attachments.storage import bucket_upload

FILE_MODE = 0o644
_ZERO_CHUNK = bytes(1 << 20)


def allocate_ids(model: type[models.Model], count: int) -> range:
    """Reserve ``count`` consecutive ids from the model's id sequence (so later inserts never collide)."""
    if count <= 0:
        return range(0)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        start = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [sequence, start + count - 1])
    return range(start, start + count)


def column_defaults(model: type[models.Model]) -> dict[str, object]:
    """Each concrete column's value when a row does not give one: the field default, NULL or ''."""
    defaults = {}
    for field in model._meta.concrete_fields:
        if field.has_default():
            defaults[field.attname] = field.get_default()
        elif field.null:
            defaults[field.attname] = None
        elif isinstance(field, models.CharField | models.TextField):
            defaults[field.attname] = ""
        else:
            defaults[field.attname] = None  # required: the row must give it
    return defaults


def copy_rows(model: type[models.Model], rows: Iterable[dict], progress: Callable[[int], None] | None = None) -> int:
    """COPY dict rows (keyed by attname, ids included) into the model's table; return the row count."""
    defaults = column_defaults(model)
    names = list(defaults)
    columns = ", ".join(f'"{model._meta.get_field(name).column}"' for name in names)
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: COPY bypasses Django's cursor wrapper
        with raw.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row.get(name, defaults[name]) for name in names])
                count += 1
                if progress and count % 2000 == 0:
                    progress(2000)
    if progress:
        progress(count % 2000)
    return count


def zero_digests(sizes: Iterable[int]) -> dict[int, str]:
    """SHA-256 of ``size`` zero bytes for every size, hashing each byte once (sizes ascending, state copied)."""
    digests, fed, state = {}, 0, hashlib.sha256()
    for size in sorted(set(sizes)):
        remaining = size - fed
        while remaining:
            step = min(remaining, len(_ZERO_CHUNK))
            state.update(memoryview(_ZERO_CHUNK)[:step])
            remaining -= step
        fed = size
        digests[size] = state.copy().hexdigest()
    return digests


def history_triggers() -> list[tuple[type[models.Model], str, str]]:
    """(model, pgtrigger URI, PostgreSQL trigger name) of every pghistory tracking trigger."""
    return [
        (model, f"{model._meta.label}:{trigger.name}", trigger.get_pgid(model))
        for model, trigger in pgtrigger.registered()
        if isinstance(trigger, pghistory.trigger.Event)
    ]


@contextlib.contextmanager
def history_triggers_off():
    """Switch the history tracking triggers (only those) off for the rest of the current transaction.

    Seed data may be loaded without history (DOMAIN.md §6). As the tables' owner, the triggers are disabled
    with ALTER TABLE and enabled again before the block ends (DDL is transactional, so a failed seed rolls
    the switch back too); other roles fall back to pgtrigger.ignore, which works for anyone but costs a
    function call per row. Yields the method used.
    """
    triggers = history_triggers()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for model, _, name in triggers:
                cursor.execute(f'ALTER TABLE "{model._meta.db_table}" DISABLE TRIGGER "{name}"')
    except DatabaseError:  # not the owner: the per-row switch every role may use
        with pgtrigger.ignore(*[uri for _, uri, _ in triggers]):
            with connection.cursor() as cursor:
                # COPY bypasses Django's cursor wrappers; this statement pins the switch for the transaction.
                cursor.execute("SET LOCAL application_name = 'ip2a-seed'")
            yield "pgtrigger.ignore"
        return
    yield "disabled"
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred FK checks: ALTER waits for none
        for model, _, name in triggers:
            cursor.execute(f'ALTER TABLE "{model._meta.db_table}" ENABLE TRIGGER "{name}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Zeros(io.RawIOBase):
    """``size`` zero bytes as a seekable binary stream, made as they are read (never held whole)."""

    def __init__(self, size: int):
        self.size, self.position = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        count = max(min(len(buffer), self.size - self.position), 0)
        buffer[:count] = bytes(count)
        self.position += count
        return count


class BucketFiles:
    """Creates files in a bucket as objects of zeros (a bucket keeps no sparse files: every byte is uploaded)."""

    def __init__(self, storage):
        self.storage = storage

    def create(self, name: str, size: int) -> None:
        content_type = CONTENT_TYPES.get(name.rpartition(".")[2], "application/octet-stream")
        bucket_upload(self.storage, name, Zeros(size), content_type=content_type)

    def create_many(self, files: list[tuple[str, int]], workers: int = 4) -> None:
        """Upload the (name, size) files, ``workers`` at a time (the time goes in network round trips)."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(self.create, name, size) for name, size in files]:
                future.result()


class SparseFiles:
    """Creates files under a storage folder as sparse files: their apparent size is set, no data is written."""

    def __init__(self, root: str):
        self.root = root
        self.folders: set[str] = set()

    def create(self, name: str, size: int) -> None:
        path = os.path.join(self.root, name)
        folder = os.path.dirname(path)
        if folder not in self.folders:
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)

    def create_many(self, files: list[tuple[str, int]], workers: int = 2) -> None:
        """Create the (name, size) files, one folder's files per thread at a time (creating files is
        metadata I/O: two threads keep both cores busy without fighting over a folder's lock)."""
        by_folder: dict[str, list[tuple[str, int]]] = {}
        for name, size in files:
            by_folder.setdefault(os.path.dirname(os.path.join(self.root, name)), []).append((name, size))
        for folder in by_folder:
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        buckets: list[list[tuple[str, int]]] = [[] for _ in range(workers)]
        for index, folder in enumerate(sorted(by_folder)):
            buckets[index % workers].extend(by_folder[folder])
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(self._create_all, bucket) for bucket in buckets]:
                future.result()

    def _create_all(self, files: list[tuple[str, int]]) -> None:
        for name, size in files:
            self.create(name, size)
