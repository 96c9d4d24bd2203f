import json
import os
import shlex
import shutil
import socket
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from ip2a import embedded, loadtest
from ip2a.commands import FORCE, OperatorCommand
from ip2a.loadtest import LoadTestUsageError, PortalUnreachable


class Command(OperatorCommand):
    help = (
        "Run the Locust load test of DOMAIN.md §10 against --host, or against the portal started under gunicorn on "
        "a free port. Presets: --quick (10 users, 1 min), default (50 users, 5 min), --stress (200 users, 10 min), "
        "--target (4,000 users, spawn 20/s, think 5–15 s, 15 min). Exit 0 when more than 99% of the operations "
        "succeed (and, with --assert-targets, the --target goals hold), 1 otherwise, 2 on usage errors or when "
        "/healthz does not answer. --pattern distributed runs all four user types in a Locust master with "
        "--processes N workers (default one per core). --prepare-only --pool-file FILE prepares a run for Locust on "
        "other hosts and prints its command lines; --end-sessions --pool-file FILE cleans up after it."
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
        parser.add_argument(
            "--processes",
            type=int,
            help="With --pattern distributed: Locust worker processes. With --prepare-only: the workers on every "
            "host together (default 1); start exactly that many.",
        )
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
        parser.add_argument(
            "--prepare-only",
            action="store_true",
            help="Prepare the accounts, sessions and id pools in this database, write them to --pool-file, print "
            "the Locust master and worker command lines for other hosts and exit (needs --host; starts nothing).",
        )
        parser.add_argument(
            "--pool-file",
            metavar="FILE",
            help="With --prepare-only: where to write the pool file (it holds live sessions: mode 600). With "
            "--end-sessions: the pool file to retire.",
        )
        parser.add_argument(
            "--master-host",
            help="With --prepare-only: the name or address the workers reach the Locust master on (default: this "
            "machine's name).",
        )
        parser.add_argument(
            "--end-sessions",
            action="store_true",
            help="With --pool-file: end the sessions of a prepared run, give its accounts an unusable password and "
            "delete the file.",
        )

    def run(self, **options):
        if options["end_sessions"]:
            return self.end_sessions(options["pool_file"])
        password = options["password"] or os.environ.get(loadtest.PASSWORD_ENV) or None
        if settings.PRODUCTION and password:
            raise CommandError(
                f"A load-test password (--password or ${loadtest.PASSWORD_ENV}) is refused in production; the "
                "accounts get unusable passwords there and nobody logs in by form.",
                returncode=2,
            )
        try:
            check_prepare_flags(options)
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
                prepare_only=options["prepare_only"],
            )
            pools = loadtest.read_ids_file(options["ids_file"]) if options["ids_file"] else loadtest.sample_pools()
            loadtest.check_pools(pools)
        except LoadTestUsageError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if not settings.PRODUCTION and password is None:
            password = loadtest.new_password()
        if options["prepare_only"]:
            return self.prepare_only(config, pools, password, options)
        if config.host and not loadtest.healthz(config.host):
            raise CommandError(f"{config.host}/healthz does not answer 200; is the portal running?", returncode=2)

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
                database_pid=embedded.postmaster_pid(),
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
        line = loadtest.verdict_line(report, assert_targets=config.assert_targets)
        return report["exit_code"], line, report

    def prepare_only(self, config, pools, password, options):
        """Write the pool file for Locust on other hosts and print how to start it; start nothing."""
        if not loadtest.healthz(config.host):
            # The Locust hosts, not this one, must reach the portal: say so, but prepare anyway.
            self.stderr.write(self.style.WARNING(f"{config.host}/healthz does not answer from this machine."))
        run_prefix = loadtest.choose_run_prefix(self.run_id)
        accounts = loadtest.prepare_accounts(config.prepare_users, password)
        path = Path(options["pool_file"]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        loadtest.write_pool_file(
            path, config=config, pools=pools, accounts=accounts, password=password, run_prefix=run_prefix
        )
        commands = loadtest.distributed_commands(
            config,
            pool_path=path,
            master_host=options["master_host"] or socket.gethostname(),
            csv_prefix=options["csv"] or "loadtest",
        )
        cleanup = f"python manage.py loadtest --end-sessions --pool-file {shlex.quote(str(path))}"
        minutes = settings.SESSION_IDLE_SECONDS // 60
        for line in (
            f"Pool file {path} (mode 600: it holds live sessions): {config.users} users, {len(accounts)} accounts, "
            f"{len(pools['members'])} members, {len(pools['organizations'])} organizations, "
            f"{len(pools['students'])} students, {len(pools['attachments'])} attachments, Z run number "
            f"{run_prefix:03d}.",
            "Copy it to the same path on every Locust host and run Locust from the repository folder there.",
            f"Start the master (it waits for {config.workers} worker{'s' if config.workers > 1 else ''}):",
            f"  {commands['master']}",
            f"Then start exactly {config.workers} worker{'s' if config.workers > 1 else ''} in all, on any hosts "
            "(add --processes K to start K on one line):",
            f"  {commands['worker']}",
            f"Start within {minutes} minutes: unused sessions end after SESSION_IDLE_SECONDS.",
            "Afterwards, end the sessions, retire the accounts' password and delete this file:",
            f"  {cleanup}",
        ):
            self.info.write(line)
        summary = {
            "configuration": {**config.describe(), "host": config.host, "run_prefix": run_prefix},
            "pool_file": str(path),
            "accounts": len(accounts),
            "commands": {**commands, "cleanup": cleanup},
        }
        line = (
            f"Prepared {len(accounts)} accounts and the id pools for {config.users} users on {config.workers} "
            f"Locust worker{'s' if config.workers > 1 else ''} against {config.host}; nothing started"
        )
        return 0, line, summary

    def end_sessions(self, pool_file):
        """Retire a prepared run: its sessions, its accounts' password and its pool file."""
        if not pool_file:
            raise CommandError("--end-sessions needs --pool-file: the file --prepare-only wrote.", returncode=2)
        try:
            count = loadtest.retire_pool_file(pool_file)
        except LoadTestUsageError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        line = f"Ended the sessions of {count} load-test accounts, retired their password and deleted {pool_file}"
        return 0, line, {"pool_file": pool_file, "accounts": count}


def check_prepare_flags(options) -> None:
    """The flags that go with --prepare-only, and those that need a run it does not start."""
    if options["prepare_only"]:
        if not options["pool_file"]:
            raise LoadTestUsageError("--prepare-only needs --pool-file: where to write the pool file.")
        if options["export"] or options["assert_targets"]:
            raise LoadTestUsageError("--export and --assert-targets judge a run; --prepare-only starts none.")
    elif options["pool_file"] or options["master_host"]:
        raise LoadTestUsageError("--pool-file and --master-host go with --prepare-only (or --end-sessions).")
