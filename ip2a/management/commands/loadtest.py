import json
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from ip2a import loadtest
from ip2a.commands import FORCE, OperatorCommand
from ip2a.loadtest import LoadTestUsageError, PortalUnreachable


class Command(OperatorCommand):
    help = (
        "Run the Locust load test of DOMAIN.md §10 against --host, or against the portal started under gunicorn on "
        "a free port. Presets: --quick (10 users, 1 min), default (50 users, 5 min), --stress (200 users, 10 min), "
        "--target (4,000 users, spawn 20/s, think 5–15 s, 15 min). Exit 0 when more than 99% of the operations "
        "succeed (and, with --assert-targets, the --target goals hold), 1 otherwise, 2 on usage errors or when "
        "/healthz does not answer. --pattern distributed runs all four user types in a Locust master with "
        "--processes N workers (default one per core)."
    )
    production = FORCE

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--host", help="The portal's base URL, e.g. http://127.0.0.1:8000 (default: start one).")
        # One preset at most; resolve_config() says so (exit 2 from call_command too, unlike argparse).
        parser.add_argument("--quick", action="store_true", help="10 users for 1 minute; every user logs in by form.")
        parser.add_argument("--stress", action="store_true", help="200 users for 10 minutes.")
        parser.add_argument(
            "--target", action="store_true", help="4,000 users, spawn rate 20/s, think time 5–15 s, 15 minutes."
        )
        parser.add_argument("--users", type=int, help="Simulated users (overrides the preset).")
        parser.add_argument("--spawn-rate", type=float, help="Users started per second (overrides the preset).")
        parser.add_argument("--run-time", help="How long, e.g. 90s, 5m, 1h30m (overrides the preset).")
        parser.add_argument(
            "--pattern",
            choices=loadtest.PATTERNS,
            help="One user type only, or `distributed` (all four, Locust master + workers).",
        )
        parser.add_argument("--processes", type=int, help="With --pattern distributed: Locust worker processes.")
        parser.add_argument(
            "--think-time", metavar="MIN-MAX", help="Seconds between a user's operations (default 1-3)."
        )
        parser.add_argument(
            "--prepare-users",
            type=int,
            metavar="N",
            help="loadtest-NNNN accounts to prepare (default: one per user, at most "
            f"{loadtest.MAX_PREPARED_ACCOUNTS}; users share them round-robin).",
        )
        parser.add_argument(
            "--password",
            help=f"Password of the load-test accounts for the form logins (default ${loadtest.PASSWORD_ENV}, else a "
            "new random one each run). Refused in production.",
        )
        parser.add_argument(
            "--ids-file",
            metavar="FILE",
            help="JSON id pools (members as [id, number, last name], organizations, employers, students, attachments "
            "as [id, member id]) instead of sampling the database.",
        )
        parser.add_argument("--export", metavar="FILE", help="Write the report as JSON to FILE.")
        parser.add_argument("--csv", metavar="PREFIX", help="Keep Locust's CSV files under PREFIX.")
        parser.add_argument(
            "--assert-targets",
            action="store_true",
            help="Exit 1 unless p95 < 500 ms, average < 200 ms, 0 failures and ≥ 300 requests/s after ramp-up.",
        )

    def run(self, **options):
        password = options["password"] or os.environ.get(loadtest.PASSWORD_ENV) or None
        if settings.PRODUCTION and password:
            raise CommandError(
                f"A load-test password (--password or ${loadtest.PASSWORD_ENV}) is refused in production; the "
                "accounts get unusable passwords there and nobody logs in by form.",
                returncode=2,
            )
        try:
            config = loadtest.resolve_config(
                quick=options["quick"],
                stress=options["stress"],
                target=options["target"],
                users=options["users"],
                spawn_rate=options["spawn_rate"],
                run_time=options["run_time"],
                pattern=options["pattern"],
                think_time=options["think_time"],
                prepare_users=options["prepare_users"],
                processes=options["processes"],
                host=options["host"],
                assert_targets=options["assert_targets"],
                form_logins_allowed=not settings.PRODUCTION,
            )
            pools = loadtest.read_ids_file(options["ids_file"]) if options["ids_file"] else loadtest.sample_pools()
            loadtest.check_pools(pools)
        except LoadTestUsageError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if config.host and not loadtest.healthz(config.host):
            raise CommandError(f"{config.host}/healthz does not answer 200; is the portal running?", returncode=2)
        if not settings.PRODUCTION and password is None:
            password = loadtest.new_password()

        folder = Path(tempfile.mkdtemp(prefix="ip2a-loadtest-"))
        portal, accounts = None, []
        try:
            run_prefix = loadtest.choose_run_prefix(self.run_id)
            accounts = loadtest.prepare_accounts(config.prepare_users, password)
            pool_path = folder / "pool.json"
            loadtest.write_pool_file(
                pool_path, config=config, pools=pools, accounts=accounts, password=password, run_prefix=run_prefix
            )
            if not config.host:
                self.info.write("Starting the portal under gunicorn …")
                portal = loadtest.start_portal(folder / "gunicorn.log")
                config.host = portal.host
            self.info.write(
                f"Starting Locust against {config.host}: {config.users} users, spawn {config.spawn_rate:g}/s, "
                f"{config.run_time} s; {len(pools['members'])} members, {len(pools['organizations'])} organizations, "
                f"{len(pools['students'])} students, {len(pools['attachments'])} attachments in the id pools; "
                f"Z run number {run_prefix:03d}."
            )
            self.stdout.flush()
            csv_prefix = options["csv"] or str(folder / "locust")
            if options["csv"]:
                Path(csv_prefix).parent.mkdir(parents=True, exist_ok=True)
            result = loadtest.run_locust(
                config,
                host=config.host,
                pool_path=pool_path,
                csv_prefix=csv_prefix,
                json_prefix=str(folder / "locust"),
                log_path=folder / "locust.log",
                progress=self.info.write,
                server_pid=portal.process.pid if portal else None,
            )
        except LoadTestUsageError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except PortalUnreachable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        finally:
            (folder / "pool.json").unlink(missing_ok=True)  # it holds live sessions and the password
            if portal:
                loadtest.stop_portal(portal)
            if accounts:
                loadtest.discard_sessions([key for _name, key in accounts])

        if not result.stats:
            log = (
                (folder / "locust.log").read_text(errors="replace")[-3000:] if (folder / "locust.log").exists() else ""
            )
            shutil.rmtree(folder, ignore_errors=True)
            raise CommandError(
                f"Locust exited with status {result.returncode} and no statistics.\n{result.extra['stderr']}{log}",
                returncode=1,
            )
        shutil.rmtree(folder, ignore_errors=True)

        report = loadtest.compute_report(config, result, run_prefix=run_prefix)
        for line in loadtest.format_report(report):
            self.info.write(line)
        if options["export"]:
            Path(options["export"]).write_text(json.dumps(report, indent=2))
            self.info.write(f"Report written to {options['export']}.")
        totals = report["totals"]
        code = report["exit_code"]
        verdict = "PASSED" if code == 0 else "FAILED"
        line = (
            f"Load test {verdict}: {totals['requests']} requests, {totals['requests_per_second']:.1f} req/s after "
            f"ramp-up, average {totals['average_ms']:.0f} ms ({totals['band']}), p95 {totals['p95_ms']} ms, "
            f"{totals['failure_rate'] * 100:.2f} % failed"
        )
        return code, line, report
