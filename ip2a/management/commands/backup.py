import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ip2a.backup import (
    ATTACHMENTS,
    DUMP,
    BackupError,
    attachments_bucket,
    attachments_root,
    copy_tree,
    pg_env,
    pg_tool,
    sha256_of,
    write_manifest,
)
from ip2a.commands import ALLOW, OperatorCommand


class Command(OperatorCommand):
    help = (
        "Back up the database (pg_dump custom format) and the attachment files (sparse files kept sparse) into "
        "one folder, with a manifest of every file's size and SHA-256; attachments in an S3 bucket stay there "
        "(the bucket's versioning protects them). Not destructive; allowed in production."
    )
    production = ALLOW

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--output", metavar="DIR", help="Folder to write (new or empty); default var/backups/<timestamp>/."
        )

    def run(self, *, output, **options):
        now = timezone.localtime()
        folder = Path(output) if output else Path(settings.VAR_DIR) / "backups" / now.strftime("%Y%m%d-%H%M%S")
        if folder.exists() and any(folder.iterdir()):
            return 2, f"Refusing to back up into {folder}: it is not empty", {}
        folder.mkdir(parents=True, exist_ok=True)
        timings = {}
        try:
            started = time.monotonic()
            self.info.write(f"Dumping the database to {folder / DUMP} …")
            dump_path = folder / DUMP
            result = subprocess.run(
                [pg_tool("pg_dump"), "--format=custom", "--file", str(dump_path)],
                env=pg_env(),
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise BackupError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()}")
            dump = {"path": DUMP, "size": dump_path.stat().st_size, "sha256": sha256_of(dump_path)}
            timings["database"] = round(time.monotonic() - started, 3)
            self.info.write(f"  database: {dump['size']:,} bytes in {timings['database']:.1f} s")

            started = time.monotonic()
            if bucket := attachments_bucket():
                self.info.write(f"Not copying the attachments: they live in {bucket}, protected by its versioning.")
                files = []
            else:
                source = attachments_root()
                self.info.write(f"Copying the attachments from {source} …")
                files = copy_tree(source, folder / ATTACHMENTS)
            timings["attachments"] = round(time.monotonic() - started, 3)
            total = sum(entry["size"] for entry in files)
            self.info.write(f"  attachments: {len(files):,} files, {total:,} bytes in {timings['attachments']:.1f} s")
        except BackupError as exc:
            return 1, f"Backup failed: {exc}", {"folder": str(folder), "timings": timings}
        write_manifest(folder, created_at=now.isoformat(), run_id=self.run_id, dump=dump, files=files, bucket=bucket)
        summary = {"folder": str(folder), "database_bytes": dump["size"], "files": len(files), "file_bytes": total}
        if bucket:
            line = f"Backed up the database ({dump['size']:,} bytes) to {folder}; the attachments stay in {bucket}"
            return 0, line, {**summary, "attachments_bucket": bucket, "timings": timings}
        line = (
            f"Backed up the database ({dump['size']:,} bytes) and {len(files):,} files ({total:,} bytes) to {folder}"
        )
        return 0, line, {**summary, "timings": timings}
