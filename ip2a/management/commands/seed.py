import datetime as dt
import sys
import time

from django.core.cache import cache
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from audit.models import AuditSource
from ip2a.commands import REFUSE, OperatorCommand
from ip2a.reset import empty_attachments_storage, truncate
from ip2a.seed.loader import history_triggers_off
from ip2a.seed.seeder import PhaseResult, Seeder
from ip2a.seed.volumes import COUNT_OPTIONS, NORMAL, QUICK, STRESS, volumes_for
from members.models import Member
from organizations.models import Organization
from training.models import Student

NOT_ROWS = {"truncate", "file plan", "checks and commit", "vacuum and analyze"}  # counts of tables or files, not rows


class Command(OperatorCommand):
    help = "Load demo or volume data (quick, normal or stress); deterministic for a given seed, counts and date."
    production = REFUSE
    needs_owner = True  # TRUNCATE, setval, ANALYZE and switching triggers off are the owner's
    source = AuditSource.SEED
    default_mode = NORMAL

    def add_arguments(self, parser):
        super().add_arguments(parser)
        modes = parser.add_mutually_exclusive_group()
        modes.add_argument("--quick", action="store_true", help="Small demo data (10 members, 100 students).")
        modes.add_argument("--stress", action="store_true", help="Volume data (10,000 members, ~250,000 jobs, 30 GB).")
        for name in COUNT_OPTIONS:
            parser.add_argument(f"--{name}", type=int, metavar="N", help=f"Number of {name} (overrides the mode).")
        parser.add_argument("--attachment-bytes", type=int, metavar="B", help="Total apparent size of attachments.")
        parser.add_argument("--random-seed", type=int, default=42, help="Seed of the random generator (default 42).")
        parser.add_argument("--as-of", type=dt.date.fromisoformat, help="The 'today' the data is built around.")
        parser.add_argument(
            "--no-truncate", action="store_true", help="Add to the existing data instead of replacing it."
        )
        parser.add_argument("--no-files", action="store_true", help="Create no attachments (rows nor files).")
        parser.add_argument(
            "--record-history", action="store_true", help="Record history events for seeded rows (slower)."
        )
        parser.add_argument("--yes", action="store_true", help="Replace existing data without asking.")

    def run(self, **options):
        mode = QUICK if options["quick"] else STRESS if options["stress"] else self.default_mode
        try:
            counts = {name: options.get(name) for name in COUNT_OPTIONS}
            volumes = volumes_for(mode, attachment_bytes=options["attachment_bytes"], **counts)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        as_of = options["as_of"] or timezone.localdate()
        if not options["no_truncate"] and not options["yes"] and self.has_data():
            raise CommandError(
                "The database already holds domain data. Pass --yes to replace it, or --no-truncate to add to it.",
                returncode=2,
            )
        seeder = Seeder(volumes, random_seed=options["random_seed"], as_of=as_of, files=not options["no_files"])
        self.stdout.write(
            f"Seeding {mode} data (seed {options['random_seed']}, as of {as_of.isoformat()}"
            f"{', history recorded' if options['record_history'] else ''})."
        )
        results = []
        with transaction.atomic():
            if not options["no_truncate"]:
                started = time.monotonic()
                emptied, missing = truncate()
                for table in missing:
                    self.stderr.write(self.style.WARNING(f"Table {table} does not exist; skipped."))
                files = empty_attachments_storage()
                results.append(PhaseResult("truncate", len(emptied) + files, time.monotonic() - started))
            if options["record_history"]:
                results += seeder.run(self.progress_bar)
                started = time.monotonic()
            else:
                with history_triggers_off() as how:
                    self.stdout.write(f"History tracking off during the load ({how}).")
                    results += seeder.run(self.progress_bar)
                    started = time.monotonic()  # from here: triggers back on, deferred checks, commit
        results.append(PhaseResult("checks and commit", 0, time.monotonic() - started))
        results.append(seeder.vacuum())
        cache.clear()  # cached numbers (dashboard, counts) follow history events, which the load did not write
        self.print_table(results)
        rows = sum(result.rows for result in results if result.name not in NOT_ROWS)
        seconds = sum(result.seconds for result in results)
        summary = {
            "mode": mode,
            "as_of": as_of.isoformat(),
            "random_seed": options["random_seed"],
            "volumes": volumes.as_dict(),
            "phases": [{"phase": r.name, "rows": r.rows, "seconds": round(r.seconds, 3)} for r in results],
        }
        return 0, f"Seeded {rows:,} rows in {seconds:.1f} s ({mode} mode)", summary

    @staticmethod
    def has_data() -> bool:
        return any(model.all_objects.exists() for model in (Organization, Member, Student))

    def progress_bar(self, name, total):
        """A bar on a terminal; elsewhere (a log, CI) one line as each phase starts and one as it ends, so a
        stress seed is never minutes of silence."""
        if self.stderr.isatty():
            bar = tqdm(total=total, desc=f"{name:20}", unit="rows", file=sys.stderr, leave=False)
            return bar.update, bar.close
        started, done = time.monotonic(), [0]
        self.stderr.write(f"  {name}: ~{total:,} rows …")
        self.stderr.flush()

        def update(rows):
            done[0] += rows

        def close():
            self.stderr.write(f"  {name}: {done[0]:,} rows in {time.monotonic() - started:.1f} s")
            self.stderr.flush()

        return update, close

    def print_table(self, results):
        self.stdout.write(f"{'phase':22}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
        for result in results:
            self.stdout.write(f"{result.name:22}{result.rows:>12,}{result.seconds:>10.2f}{result.rate:>12,.0f}")
        total_rows = sum(r.rows for r in results if r.name not in NOT_ROWS)
        total_seconds = sum(r.seconds for r in results)
        rate = total_rows / total_seconds if total_seconds else 0
        self.stdout.write(f"{'total':22}{total_rows:>12,}{total_seconds:>10.2f}{rate:>12,.0f}")
