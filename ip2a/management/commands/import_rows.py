from pathlib import Path

from django.core.management.base import CommandError

from audit.models import AuditSource
from ip2a.commands import FORCE, OperatorCommand
from ip2a.imports import IMPORTS, ImportRefused, check_size, read_upload, run_import


class Command(OperatorCommand):
    help = (
        "Import members, organizations, contacts or employments from a CSV (UTF-8) or XLSX file, as the portal "
        "does: every row or none. Exit 0 when imported, 1 when rows have errors, 2 when the file is refused."
    )
    production = FORCE
    source = AuditSource.IMPORT

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("kind", choices=list(IMPORTS), help="What the file's rows are.")
        parser.add_argument("file", help="A .csv or .xlsx file whose first row names the columns.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and report; write nothing.")

    def run(self, *, kind, file, dry_run, **options):
        spec, path = IMPORTS[kind], Path(file)
        try:
            check_size(path.stat().st_size)
            upload = read_upload(name=path.name, data=path.read_bytes(), resource_class=spec.resource_class)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.", returncode=2) from None
        except ImportRefused as exc:
            raise CommandError(str(exc), returncode=2) from None
        for notice in upload.notices:
            self.info.write(notice)
        report = run_import(upload, spec.resource_class, dry_run=dry_run)
        for row in report.error_rows:
            self.info.write(f"row {row.number}: " + "; ".join(f"{where}: {message}" for where, message in row.errors))
        for error in report.file_errors:
            self.info.write(f"file: {error}")
        if report.stopped:
            outcome = "nothing imported (--dry-run lists the errors of every row)"
        elif report.has_errors:
            outcome = "nothing imported"
        elif dry_run:
            outcome = "dry run, nothing written"
        else:
            outcome = "imported"
        summary = {"kind": kind, "file": path.name, **report.counts, "imported": report.imported}
        return (1 if report.has_errors else 0), f"{report.summary_line()}; {outcome}", summary
