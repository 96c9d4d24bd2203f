"""ip2adb: one command for the operator tools (DOMAIN.md §9).

    ip2adb seed [--quick | --stress] [seed flags]      → manage.py seed
    ip2adb integrity [flags]                          → manage.py integrity (manage.py repair with --repair)
    ip2adb load [flags]                               → manage.py loadtest
    ip2adb reset [--yes] [--with-history]             → manage.py reset
    ip2adb backup [--output DIR]                      → manage.py backup
    ip2adb restore DIR [--yes] [--force]              → manage.py restore
    ip2adb all [--quick | --stress] [--load-run-time T] → seed, integrity, repair --apply, integrity, load

Each subcommand runs the management command in its own process and returns its exit code; `ip2adb <sub>
--help` lists every flag of the command behind it.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
COMMANDS = {
    "seed": "seed",
    "integrity": "integrity",
    "load": "loadtest",
    "reset": "reset",
    "backup": "backup",
    "restore": "restore",
}
DESCRIPTIONS = {
    "seed": "Load demo or volume data (manage.py seed).",
    "integrity": "Run the integrity checks; --repair [--apply] repairs (manage.py integrity / repair).",
    "load": "Run the Locust load test (manage.py loadtest).",
    "reset": "Empty every domain table and the attachment storage (manage.py reset).",
    "backup": "Dump the database and copy the attachment files (files in an S3 bucket stay there), with a "
    "verified manifest (manage.py backup).",
    "restore": "Verify a backup, then replace the database and the attachment files with it (a bucket is left "
    "as it is) (manage.py restore).",
    "all": "seed → integrity → repair --apply → integrity → load, with PASSED/FAILED per step.",
}


def manage(*args: str) -> int:
    """Run ``manage.py`` with this interpreter from the project folder; return its exit code."""
    return subprocess.call([sys.executable, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR)


def has_command(name: str) -> bool:
    return (BASE_DIR / "ip2a" / "management" / "commands" / f"{name}.py").exists()


def run_sub(name: str, args: list[str]) -> int:
    if name == "integrity" and "--repair" in args:
        return manage("repair", *[arg for arg in args if arg != "--repair"])
    if not has_command(COMMANDS[name]):
        print(f"ip2adb {name}: manage.py {COMMANDS[name]} does not exist yet.", file=sys.stderr)
        return 2
    return manage(COMMANDS[name], *args)


def run_all(mode: str | None, load_run_time: str | None = None) -> int:
    """The whole operator cycle; stops when the seed fails; exit 1 when any step failed. The load step runs the
    same preset as the seed (``loadtest --quick`` after ``seed --quick``), for ``load_run_time`` if given."""
    flags = [f"--{mode}"] if mode else []
    steps = [
        ("seed", ["seed", "--yes", *flags]),
        ("integrity", ["integrity"]),
        ("repair --apply", ["repair", "--apply"]),
        ("integrity again", ["integrity"]),
        ("load", ["loadtest", *flags, *(["--run-time", load_run_time] if load_run_time else [])]),
    ]
    results = []
    for label, argv in steps:
        if not has_command(argv[0]):
            results.append((label, "SKIPPED", 0.0, f"manage.py {argv[0]} does not exist yet"))
            continue
        print(f"\n=== {label}: manage.py {' '.join(argv)}", flush=True)
        started = time.monotonic()
        code = manage(*argv)
        results.append((label, "PASSED" if code == 0 else "FAILED", time.monotonic() - started, f"exit {code}"))
        if label == "seed" and code != 0:
            break
    print("\nip2adb all:")
    for label, outcome, seconds, note in results:
        print(f"  {outcome:8} {label:18} {seconds:7.1f} s  {note}")
    failed = any(outcome == "FAILED" for _, outcome, _, _ in results)
    total = sum(seconds for _, _, seconds, _ in results)
    print(f"{'FAILED' if failed else 'PASSED'}: {len(results)} steps in {total:.1f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ip2a.settings")
    parser = argparse.ArgumentParser(
        prog="ip2adb",
        description="IP2A operator tools. Every subcommand passes its flags to the management command behind it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"  {name:10} {text}" for name, text in DESCRIPTIONS.items()),
    )
    parser.add_argument("subcommand", choices=list(DESCRIPTIONS), help="What to run (see below).")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in DESCRIPTIONS:
        parser.print_usage(sys.stderr)
        print(f"ip2adb: unknown subcommand {name!r}", file=sys.stderr)
        return 2
    if name == "all":
        sub = argparse.ArgumentParser(prog="ip2adb all", description=DESCRIPTIONS["all"])
        mode = sub.add_mutually_exclusive_group()
        mode.add_argument("--quick", action="store_const", const="quick", dest="mode", help="Quick data and load.")
        mode.add_argument("--stress", action="store_const", const="stress", dest="mode", help="Stress volumes.")
        sub.add_argument("--load-run-time", metavar="TIME", help="How long the load step runs, e.g. 30s.")
        parsed = sub.parse_args(rest)
        return run_all(parsed.mode, parsed.load_run_time)
    if "-h" in rest or "--help" in rest:
        print(f"ip2adb {name}: {DESCRIPTIONS[name]}\n")
        if name == "integrity":
            print("  --repair    plan repairs (manage.py repair); add --apply to apply them\n")
    return run_sub(name, rest)


if __name__ == "__main__":
    sys.exit(main())
