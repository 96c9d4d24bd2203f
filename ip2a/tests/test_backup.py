"""Backup and restore (DOMAIN.md §9): seed → backup → reset → restore gives the same rows and files back, and a
restore refuses a backup whose manifest does not verify, runs without --yes, or production without --force."""

import datetime as dt
import hashlib
import io
import json
import os

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import CommandOutcome, CommandRun
from ip2a.backup import MANIFEST
from ip2a.tests.test_hostile_input import domain_digest
from members.models import Member

pytestmark = pytest.mark.django_db(transaction=True)

AS_OF = dt.date(2026, 11, 26)
SPARSE_SIZE = 10 * 1024 * 1024


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def files_of(root) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: relative path → (size, sha256)."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = (os.path.getsize(path), hashlib.file_digest(handle, "sha256"))
    return {key: (size, digest.hexdigest()) for key, (size, digest) in found.items()}


@pytest.fixture
def seeded(attachments_dir):
    """A small seed plus two extra files: one with real bytes, one 10 MB sparse file."""
    run("seed", "--quick", "--yes", "--as-of", AS_OF.isoformat(), "--attachments", "6", "--attachment-bytes", "600000")
    extra = attachments_dir / "extra"
    extra.mkdir()
    (extra / "notes.txt").write_bytes(b"real bytes\n" * 1000 + bytes(200_000) + b"tail")
    with open(extra / "sparse.bin", "wb") as handle:
        handle.truncate(SPARSE_SIZE)
    assert (extra / "sparse.bin").stat().st_blocks == 0  # the filesystem keeps holes
    return attachments_dir


def test_seed_backup_reset_restore_gives_everything_back(seeded, tmp_path):
    before_rows, before_files = domain_digest(), files_of(seeded)
    assert Member.objects.exists()
    folder = tmp_path / "backup"

    out = run("backup", "--output", str(folder))

    assert "Backed up the database" in out
    manifest = json.loads((folder / MANIFEST).read_text())
    listed = {entry["path"]: (entry["size"], entry["sha256"]) for entry in manifest["files"]}
    assert {f"attachments/{path}": value for path, value in before_files.items()} == {
        path: value for path, value in listed.items() if path.startswith("attachments/")
    }
    assert listed["database.dump"] == (manifest["database"]["size"], manifest["database"]["sha256"])
    assert manifest["migrations"]["members"]
    assert manifest["ip2a_version"]
    assert (folder / "attachments/extra/sparse.bin").stat().st_blocks == 0  # still sparse in the backup

    run("reset", "--yes")
    assert not Member.objects.exists()
    assert files_of(seeded) == {}
    cache.set("stale", "value computed before the restore")

    out = run("restore", str(folder), "--yes")

    assert "integrity clean" in out
    assert domain_digest() == before_rows
    assert files_of(seeded) == before_files
    assert (seeded / "extra/sparse.bin").stat().st_blocks == 0
    assert cache.get("stale") is None  # the cache was emptied
    report = run("integrity")  # raises CommandError (exit 1) on a critical finding
    assert ": 0 critical" in report
    assert Member.objects.count() == 10
    assert CommandRun.objects.get(pk=manifest["run_id"]).outcome == CommandOutcome.SUCCEEDED
    assert CommandRun.objects.filter(command="restore").count() == 1  # the restore's own run was put back


def test_restore_refuses_a_tampered_backup_and_changes_nothing(seeded, tmp_path):
    folder = tmp_path / "backup"
    run("backup", "--output", str(folder))
    notes = folder / "attachments/extra/notes.txt"
    data = bytearray(notes.read_bytes())
    data[0] ^= 1
    notes.write_bytes(bytes(data))
    run("reset", "--yes")

    with pytest.raises(CommandError, match="manifest does not verify") as refused:
        run("restore", str(folder), "--yes")

    assert refused.value.returncode == 1
    assert not Member.objects.exists()
    assert files_of(seeded) == {}


def test_a_dump_that_fails_to_load_leaves_the_database_and_files_as_they_were(seeded, tmp_path):
    folder = tmp_path / "backup"
    run("backup", "--output", str(folder))
    dump = folder / "database.dump"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])  # truncated, with a manifest to match
    manifest = json.loads((folder / MANIFEST).read_text())
    entry = {
        "path": "database.dump",
        "size": dump.stat().st_size,
        "sha256": hashlib.sha256(dump.read_bytes()).hexdigest(),
    }
    manifest["database"] |= entry
    manifest["files"] = [entry if item["path"] == "database.dump" else item for item in manifest["files"]]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    Member.objects.filter(pk=Member.objects.first().pk).delete()
    rows, files = domain_digest(), files_of(seeded)

    with pytest.raises(CommandError, match="rolled back"):
        run("restore", str(folder), "--yes")

    assert domain_digest() == rows
    assert files_of(seeded) == files


def test_restore_refuses_an_extra_or_missing_file(seeded, tmp_path):
    folder = tmp_path / "backup"
    run("backup", "--output", str(folder))
    (folder / "attachments/extra/intruder.txt").write_text("not in the manifest")
    with pytest.raises(CommandError, match="manifest does not verify"):
        run("restore", str(folder), "--yes")
    (folder / "attachments/extra/intruder.txt").unlink()
    (folder / "attachments/extra/sparse.bin").unlink()
    with pytest.raises(CommandError, match="manifest does not verify"):
        run("restore", str(folder), "--yes")
    assert Member.objects.count() == 10


def test_restore_needs_yes_and_force_in_production(seeded, tmp_path, settings):
    folder = tmp_path / "backup"
    run("backup", "--output", str(folder))
    Member.objects.filter(pk=Member.objects.first().pk).delete()

    with pytest.raises(CommandError, match="without --yes") as refused:
        run("restore", str(folder))
    assert refused.value.returncode == 2

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="needs --force"):
        run("restore", str(folder), "--yes")
    assert Member.objects.count() == 9

    run("backup", "--output", str(tmp_path / "in-production"))  # backup is allowed in production
    assert (tmp_path / "in-production" / MANIFEST).exists()


def test_backup_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(CommandError, match="not empty"):
        run("backup", "--output", str(tmp_path / "taken"))
