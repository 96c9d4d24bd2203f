"""Writing seed rows fast: ids from each table's sequence, PostgreSQL COPY, sparse attachment files."""

import hashlib
import os
from collections.abc import Callable, Iterable

from django.db import connection, models

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
