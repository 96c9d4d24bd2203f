import contextlib
import errno
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import CommandOutcome, CommandRun
from ip2a.backup import (
    ATTACHMENTS,
    CHUNK,
    DUMP,
    BackupError,
    attachments_bucket,
    attachments_root,
    copy_tree,
    pg_env,
    pg_tool,
    verify,
)
from ip2a.commands import FORCE, OperatorCommand
from ip2a.dbroles import RoleError, grant_app_privileges

CONFIRMATION = "REPLACE ALL DATA"


class Command(OperatorCommand):
    help = (
        "Restore a folder written by `backup`: verify its manifest (refused when any file is missing, changed or "
        "extra), replace the whole database (one transaction) and the attachment files, empty the cache, then run "
        "the integrity checks. Attachments in an S3 bucket are left as they are: only the database is restored. "
        "Needs --yes off a terminal; needs --force in production."
    )
    production = FORCE
    needs_owner = True  # dropping and recreating the schema is the owner's

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("folder", nargs="?", metavar="DIR", help="The backup folder.")
        parser.add_argument("--input", metavar="DIR", help="The backup folder (instead of the positional DIR).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for the typed confirmation.")
        parser.add_argument("--no-integrity", action="store_true", help="Skip the integrity run at the end.")

    def run(self, *, folder, input, yes, no_integrity, **options):
        if not (folder or input) or (folder and input and folder != input):
            raise CommandError("Give the backup folder once: restore DIR or restore --input DIR.", returncode=2)
        folder = Path(folder or input)
        timings = {}
        started = time.monotonic()
        self.info.write(f"Verifying {folder} …")
        manifest, problems = verify(folder)
        timings["verify"] = round(time.monotonic() - started, 3)
        if problems:
            for problem in problems[:20]:
                self.stderr.write(f"  {problem}")
            if len(problems) > 20:
                self.stderr.write(f"  … and {len(problems) - 20} more")
            line = f"Refusing to restore {folder}: the manifest does not verify ({len(problems)} problems)"
            line += "; nothing changed"
            return 1, line, {"problems": problems[:100]}
        self.info.write(f"  {len(manifest['files']):,} files verified in {timings['verify']:.1f} s")
        bucket, files_in = attachments_bucket(), manifest.get("attachments_bucket")
        if refusal := bucket_refusal(folder, manifest, bucket, files_in):
            return 1, f"Refusing to restore {folder}: {refusal}; nothing changed", {}
        if settings.DATABASE_OWNER:
            # The grants after the reload run once psql has committed: refuse now what they would refuse then.
            try:
                grant_app_privileges(check_only=True)
            except RoleError as exc:
                return 1, f"Refusing to restore {folder}: {exc} Nothing changed", {}
        if not yes:
            if not sys.stdin.isatty():
                return 2, "Refusing to restore without --yes (no terminal to confirm on)", {}
            answer = input(f"This replaces every row and file with the backup. Type {CONFIRMATION}: ")
            if answer.strip() != CONFIRMATION:
                return 2, "Restore cancelled: the confirmation did not match", {}
        if bucket:
            return self.restore_database_only(folder, manifest, bucket, files_in, timings, no_integrity)
        try:
            root = attachments_root()
        except BackupError as exc:
            return 1, f"Restore failed: {exc}", {}
        staging = root.parent / f".{root.name}.restoring"
        try:
            shutil.rmtree(staging, ignore_errors=True)

            started = time.monotonic()
            self.info.write(f"Copying the attachments to {staging} …")
            copied = copy_tree(folder / ATTACHMENTS, staging / ATTACHMENTS)
            expected = {entry["path"]: entry["sha256"] for entry in manifest["files"] if entry["path"] != DUMP}
            if {entry["path"]: entry["sha256"] for entry in copied} != expected:
                raise BackupError("the copied attachments do not match the manifest; nothing changed")
            timings["copy"] = round(time.monotonic() - started, 3)

            started = time.monotonic()
            self.info.write(f"Restoring the database {connection.settings_dict['NAME']} (one transaction) …")
            ungranted = self.restore_database(folder / DUMP, manifest)
            timings["database"] = round(time.monotonic() - started, 3)

            started = time.monotonic()
            self.info.write(f"Replacing the attachments in {root} …")
            swap(staging / ATTACHMENTS, root)
            timings["attachments"] = round(time.monotonic() - started, 3)
        except BackupError as exc:
            return 1, f"Restore failed: {exc}", {"timings": timings}
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # History event ids (and every other id) may repeat after a restore: nothing cached may survive it.
        cache.clear()
        ContentType.objects.clear_cache()

        summary = {"folder": str(folder), "files": len(copied), "backup_created_at": manifest.get("created_at")}
        line = f"Restored {folder} (backup of {manifest.get('created_at')}): the database and {len(copied):,} files"
        return self.finish(line, summary, timings, no_integrity, ungranted)

    def restore_database_only(self, folder, manifest, bucket, files_in, timings, no_integrity):
        """Attachments in a bucket: restore the database and leave the bucket's objects as they are."""
        if files_in and files_in != bucket:
            self.stderr.write(
                self.style.WARNING(f"The backup's attachments were in {files_in}; this site's are in {bucket}.")
            )
        try:
            started = time.monotonic()
            self.info.write(f"Restoring the database {connection.settings_dict['NAME']} (one transaction) …")
            ungranted = self.restore_database(folder / DUMP, manifest)
            timings["database"] = round(time.monotonic() - started, 3)
        except BackupError as exc:
            return 1, f"Restore failed: {exc}", {"timings": timings}
        cache.clear()
        ContentType.objects.clear_cache()
        summary = {"folder": str(folder), "files": 0, "backup_created_at": manifest.get("created_at")}
        line = (
            f"Restored {folder} (backup of {manifest.get('created_at')}): the database; the attachments in {bucket} "
            "were left as they are"
        )
        return self.finish(line, summary | {"attachments_bucket": bucket}, timings, no_integrity, ungranted)

    def finish(self, line, summary, timings, no_integrity, ungranted=None):
        """Run the integrity checks after a restore (unless told not to) and give the command's outcome: a
        failure when the portal's role could not be granted its privileges (``ungranted`` says why)."""
        if ungranted:
            line += (
                f"; but the portal's role was not granted its privileges on the restored tables: {ungranted} "
                "Until `manage.py migrate` grants them the portal cannot use the database"
            )
            summary |= {"ungranted": ungranted}
        if no_integrity:
            return int(bool(ungranted)), line, {**summary, "timings": timings}
        started = time.monotonic()
        self.info.write("Running the integrity checks …")
        report = io.StringIO()
        try:
            call_command("integrity", force=True, stdout=report, stderr=io.StringIO())
            code = 0
        except CommandError as exc:
            code = exc.returncode
        self.info.write("  " + report.getvalue().strip().replace("\n", "\n  "))
        timings["integrity"] = round(time.monotonic() - started, 3)
        summary |= {"integrity_exit_code": code, "timings": timings}
        if code:
            return 1, f"{line}; the integrity run found critical issues (exit {code})", summary
        return int(bool(ungranted)), f"{line}; integrity clean", summary

    def restore_database(self, dump: Path, manifest: dict) -> str | None:
        """Drop and recreate the public schema and load the dump in one transaction: pg_restore's script is fed to
        psql between BEGIN and a COMMIT sent only when pg_restore read the whole archive, so any failure (a bad
        archive, an SQL error) leaves the database as it was. Then, with two roles, grant the portal's role its
        privileges; returns why that was refused (the reload stays: the restored tables carry none of the dump's
        grants, so the portal's role can do nothing with them until a migrate grants them), or None."""
        own_run = CommandRun.objects.filter(pk=self.run_id).first()
        connection.close()  # hold no connection (or lock) while the schema is dropped
        with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
            consumer = subprocess.Popen(
                [pg_tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=psql_errors,
                env=pg_env(),
            )
            producer = subprocess.Popen(
                [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump)],
                stdout=subprocess.PIPE,
                stderr=restore_errors,
            )
            try:
                consumer.stdin.write(b"BEGIN;\nDROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
                shutil.copyfileobj(producer.stdout, consumer.stdin, CHUNK)
                if producer.wait() == 0:
                    consumer.stdin.write(b"\nCOMMIT;\n")
            except BrokenPipeError:
                pass  # psql stopped at an error; its transaction is rolled back
            finally:
                with contextlib.suppress(BrokenPipeError):
                    consumer.stdin.close()
                if producer.poll() is None:
                    producer.kill()
                producer.wait()
                consumer.wait()
            if producer.returncode or consumer.returncode:
                restore_errors.seek(0)
                psql_errors.seek(0)
                detail = (restore_errors.read() + psql_errors.read()).decode(errors="replace").strip()
                raise BackupError(f"the database restore failed and was rolled back: {detail[-2000:]}")
        self.keep_own_run(own_run)
        ungranted = None
        if settings.DATABASE_OWNER:
            try:
                grant_app_privileges()  # the dump's own grants were skipped: they may name roles this server lacks
            except RoleError as exc:
                ungranted = str(exc)
        # The dump was taken while the backup run was still running: record its end as the backup has it.
        CommandRun.objects.filter(pk=manifest.get("run_id"), outcome=CommandOutcome.RUNNING).update(
            outcome=CommandOutcome.SUCCEEDED, exit_code=0, finished_at=manifest.get("created_at")
        )
        return ungranted

    def keep_own_run(self, own_run) -> None:
        """The restored CommandRun table does not hold this run: put it back, and move the id sequence past it."""
        if own_run is None:
            return
        if CommandRun.objects.filter(pk=own_run.pk).exists():
            self.stderr.write(self.style.WARNING(f"Run id {own_run.pk} exists in the backup; its record is reused."))
            return
        own_run.save(force_insert=True)
        table = CommandRun._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table}))", [table])


def bucket_refusal(folder: Path, manifest: dict, bucket: str | None, files_in: str | None) -> str | None:
    """Why a backup cannot be restored where this site keeps its attachments, or None when it can."""
    copies = sum(1 for entry in manifest["files"] if entry["path"] != DUMP)
    if bucket and copies:
        return (
            f"it holds {copies:,} attachment files but this site keeps them in {bucket}, which a restore leaves as "
            f"it is. Copy them there first (e.g. aws s3 sync {folder / ATTACHMENTS}/ {bucket}), or restore with "
            "ATTACHMENTS_S3_BUCKET unset"
        )
    if files_in and not bucket:
        return (
            f"it holds the database only (its attachments are in {files_in}), and restoring it would empty this "
            "site's attachments folder. Set ATTACHMENTS_S3_BUCKET (and its other variables) to that bucket"
        )
    return None


def swap(source: Path, root: Path) -> None:
    """Empty ``root`` (keeping the folder itself) and move every entry of ``source`` into it."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    for entry in os.scandir(source):
        try:
            os.replace(entry.path, root / entry.name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            copy_tree(Path(entry.path), root / entry.name) if entry.is_dir() else shutil.copy2(entry.path, root)
