"""Emptying the domain (DOMAIN.md §9 "Reset"): shared by `reset` and `seed`."""

import os
import shutil

import pghistory.models
from django.apps import apps
from django.core.files.storage import storages
from django.db import connection

from attachments.storage import bucket_delete, bucket_objects, is_bucket, local_root

DOMAIN_APPS = ("organizations", "members", "training", "attachments")


def domain_tables() -> list[str]:
    """Every table of domain rows: the models of the domain apps, without their history event tables."""
    tables = []
    for app_label in DOMAIN_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if not issubclass(model, pghistory.models.Event) and not model._meta.proxy:
                tables.append(model._meta.db_table)
    return tables


def history_tables() -> list[str]:
    """The history event tables, the access log and the command runs (emptied only with --with-history)."""
    tables = [model._meta.db_table for model in apps.get_models() if issubclass(model, pghistory.models.Event)]
    return sorted(tables) + ["audit_accesslog", "audit_commandrun"]


def truncate(*, with_history: bool = False) -> tuple[list[str], list[str]]:
    """Empty the domain tables in one TRUNCATE … CASCADE; return (emptied, missing) table names.

    Kept history means identities are not restarted, so no old event ever points at a new row with the same
    id; with ``with_history`` history goes too and identities restart.
    """
    wanted = domain_tables() + (history_tables() if with_history else [])
    existing = set(connection.introspection.table_names())
    present = [table for table in wanted if table in existing]
    missing = [table for table in wanted if table not in existing]
    if present:
        names = ", ".join(connection.ops.quote_name(table) for table in present)
        restart = " RESTART IDENTITY" if with_history else ""
        with connection.cursor() as cursor:
            # Deferred foreign-key checks of earlier writes in this transaction would block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {names}{restart} CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return present, missing


def empty_attachments_storage() -> int:
    """Delete every file under the attachments storage; return how many files went.

    In a bucket that is every object under its prefix (with versioning on, the old versions stay until the
    bucket's lifecycle rule expires them)."""
    storage = storages["attachments"]
    removed = 0
    if is_bucket(storage):
        names = [stored.name for stored in bucket_objects(storage)]
        bucket_delete(storage, names)
        return len(names)
    root = local_root(storage)
    if root is not None:  # local filesystem: remove the tree, keep the folder
        if not os.path.isdir(root):
            return 0
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False):
                removed += sum(len(files) for _, _, files in os.walk(entry.path))
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
                removed += 1
        return removed
    return _empty_remote(storage, "")


def _empty_remote(storage, prefix: str) -> int:
    folders, files = storage.listdir(prefix)
    removed = 0
    for name in files:
        storage.delete(f"{prefix}{name}")
        removed += 1
    for folder in folders:
        removed += _empty_remote(storage, f"{prefix}{folder}/")
    return removed
