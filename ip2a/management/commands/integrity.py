import json
import sys
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from attachments.models import Attachment
from audit.history import history_context
from audit.models import AuditSource
from ip2a.commands import FORCE, OperatorCommand
from ip2a.integrity import SEVERITIES, CheckContext, apply_repairs, plan_repairs, run_check, select_checks

TRIAGE_CHECK = "FIL-003"
TRIAGE_CHOICES = {
    "1": "delete record",
    "2": "keep",
    "3": "skip",
    "4": "delete all remaining",
    "5": "keep all remaining",
    "6": "abort",
}


class Command(OperatorCommand):
    help = (
        "Run the integrity checks of DOMAIN.md §8 and report what they find; with --repair, plan the automatic "
        "repairs, and with --repair --apply, apply them. Exit 0 when no critical finding remains, 1 otherwise."
    )
    production = FORCE
    repair_mode = False  # the `repair` command sets it

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--checks", default="", help="Comma-separated check ids or prefixes, e.g. EMP-001,FIL.")
        parser.add_argument("--app", help="Only the checks of this app (organizations, members, training, …).")
        parser.add_argument("--no-files", action="store_true", help="Skip the checks that read the storage.")
        parser.add_argument(
            "--verify-checksums", action="store_true", help="Read every stored file and compare its SHA-256."
        )
        if not self.repair_mode:
            parser.add_argument("--repair", action="store_true", help="Plan the repairs (a dry run without --apply).")
        parser.add_argument("--apply", action="store_true", help="With --repair: apply the repairs.")
        parser.add_argument(
            "--interactive", action="store_true", help=f"Walk the {TRIAGE_CHECK} findings one by one (terminal only)."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON on stdout.")
        parser.add_argument(
            "--export", metavar="FILE", help="Also write the report to FILE (JSON if it ends in .json)."
        )

    def run(self, **options):
        repair = self.repair_mode or options.get("repair")
        if options["apply"] and not repair:
            raise CommandError("--apply needs --repair (or the repair command).", returncode=2)
        if options["interactive"] and not sys.stdin.isatty():
            raise CommandError("--interactive needs a terminal.", returncode=2)
        try:
            checks = select_checks(
                [name for name in options["checks"].split(",") if name.strip()],
                app=options["app"],
                no_files=options["no_files"],
                verify_checksums=options["verify_checksums"],
            )
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc

        started_at = timezone.now()
        context = CheckContext(today=timezone.localdate(), verify_checksums=options["verify_checksums"])
        findings, timings = self.run_all(checks, context)
        repairs, residual = [], findings
        if repair:
            if options["apply"]:
                repairs = apply_repairs(findings, run_id=self.run_id)
                repaired = {result.check for result in repairs}
                again, more_timings = self.run_all([c for c in checks if c.id in repaired], context)
                residual = [f for f in findings if f.check not in repaired] + again
                timings |= {f"{check_id} (again)": seconds for check_id, seconds in more_timings.items()}
            else:
                repairs = plan_repairs(findings)
        if options["interactive"]:
            repairs += self.triage([f for f in residual if f.check == TRIAGE_CHECK])

        report = self.report(options, started_at, checks, findings, residual, repairs, timings)
        text = self.text_report(report)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
        else:
            self.stdout.write(text)
        if options["export"]:
            path = Path(options["export"])
            body = json.dumps(report, indent=2, default=str) if path.suffix == ".json" else text
            path.write_text(body + "\n")
        counts = report["summary"]
        code = 1 if counts["critical"] else 0
        line = (
            f"{len(checks)} checks: {counts['critical']} critical, {counts['warning']} warning, {counts['info']} info"
        )
        if repair:
            applied = sum(1 for r in repairs if r.status == "applied")
            line += f"; {applied} repairs applied" if options["apply"] else f"; {counts['fixable']} fixable"
        return code, line, {"summary": counts, "timings": report["timings"]}

    def run_all(self, checks, context):
        """Run the checks with a progress bar; return (findings, seconds per check)."""
        findings, timings = [], {}
        for check in tqdm(checks, desc="Checking", unit="check", file=sys.stderr, disable=None, leave=False):
            started = time.monotonic()
            findings += run_check(check, context)
            timings[check.id] = round(time.monotonic() - started, 3)
        return findings, timings

    def report(self, options, started_at, checks, findings, residual, repairs, timings) -> dict:
        counts = Counter(f.severity for f in residual)
        return {
            "run_id": self.run_id,
            "started_at": started_at.isoformat(),
            "finished_at": timezone.now().isoformat(),
            "environment": settings.IP2A_ENV,
            "options": {k: options.get(k) for k in ("checks", "app", "no_files", "verify_checksums", "apply")},
            "checks": [check.id for check in checks],
            "summary": {
                **{severity: counts.get(severity, 0) for severity in SEVERITIES},
                "fixable": sum(1 for f in residual if f.fix is not None),
            },
            "findings": [f.as_dict() for f in residual],
            "found_before_repair": [f.as_dict() for f in findings] if residual is not findings else None,
            "repairs": [r.as_dict() for r in repairs],
            "timings": timings,
        }

    @staticmethod
    def text_report(report) -> str:
        summary, findings = report["summary"], report["findings"]
        lines = []
        for repair in report["repairs"]:
            verb = {"planned": "would", "applied": "did", "failed": "FAILED to", "skipped": "skipped:"}[
                repair["status"]
            ]
            ids = ", ".join(str(i) for i in repair["object_ids"][:10])
            lines.append(f"{repair['check']}  {verb} {repair['action']} [{ids}] {repair['detail']}".rstrip())
        if not findings:
            lines.append(f"No issues found ({len(report['checks'])} checks).")
            return "\n".join(lines)
        lines.append(
            f"{summary['critical']} critical, {summary['warning']} warning, {summary['info']} info; "
            f"{summary['fixable']} fixable"
        )
        by_check: dict[str, list[dict]] = {}
        for finding in findings:
            by_check.setdefault(finding["check"], []).append(finding)
        for check_id, items in by_check.items():
            lines.append(f"{check_id}  {items[0]['severity']:8}  {len(items)}")
            for item in items[:5]:
                ids = ", ".join(str(i) for i in item["object_ids"][:10])
                more = " …" if len(item["object_ids"]) > 10 else ""
                lines.append(f"    [{ids}{more}] {item['message']}")
            if len(items) > 5:
                lines.append(f"    … and {len(items) - 5} more")
        return "\n".join(lines)

    def triage(self, findings):
        """Walk missing-file findings one by one; apply the chosen soft deletes in one transaction."""
        from ip2a.integrity import RepairResult

        ids = [pk for finding in findings for pk in finding.object_ids]
        rows = Attachment.all_objects.select_related("target_type", "uploaded_by").in_bulk(ids)
        to_delete, reviewed, undecided, mode = [], [], [], None
        for position, pk in enumerate(ids, start=1):
            attachment = rows.get(pk)
            if attachment is None:
                continue
            choice = mode
            if choice is None:
                self.stdout.write(self.describe(attachment, position, len(ids)))
                choice = self.ask()
            if choice == "6":
                self.stdout.write("Aborted; nothing changed.")
                return [RepairResult(TRIAGE_CHECK, ids, "soft-delete missing-file records", "skipped", "aborted")]
            if choice in ("4", "5"):
                mode = "1" if choice == "4" else "2"
                choice = mode
            {"1": to_delete, "2": reviewed, "3": undecided}[choice].append(pk)
        self.stdout.write(
            f"{len(to_delete)} to delete, {len(reviewed)} kept (reviewed), {len(undecided)} skipped (undecided)."
        )
        if not to_delete:
            return []
        if input(f"Soft-delete {len(to_delete)} attachment records now? [y/N] ").strip().lower() not in ("y", "yes"):
            return [
                RepairResult(TRIAGE_CHECK, to_delete, "soft-delete missing-file records", "skipped", "not confirmed")
            ]
        reason = f"integrity repair {TRIAGE_CHECK} run {self.run_id}"
        with transaction.atomic(), history_context(source=AuditSource.REPAIR, reason=reason, run_id=self.run_id):
            now = timezone.now()
            Attachment.objects.filter(pk__in=to_delete).update(deleted_at=now, updated_at=now)
        return [RepairResult(TRIAGE_CHECK, to_delete, "soft-delete missing-file records", "applied")]

    @staticmethod
    def describe(attachment, position, total) -> str:
        target = attachment.target
        uploader = attachment.uploaded_by.get_username() if attachment.uploaded_by else "—"
        return "\n".join(
            [
                f"[{position}/{total}] attachment {attachment.pk}",
                f"  target:   {attachment.target_type.app_label}.{attachment.target_type.model} "
                f"{attachment.target_id} ({target if target is not None else 'missing'})",
                f"  category: {attachment.get_category_display()}   original name: {attachment.original_name}",
                f"  storage:  {attachment.file.name}   recorded size: {attachment.size:,} bytes",
                f"  uploaded: {timezone.localtime(attachment.created_at):%Y-%m-%d %H:%M} by {uploader}",
            ]
        )

    def ask(self) -> str:
        menu = "  ".join(f"{key} {label}" for key, label in TRIAGE_CHOICES.items())
        while True:
            answer = input(f"{menu}\nChoice: ").strip()
            if answer in TRIAGE_CHOICES:
                return answer
