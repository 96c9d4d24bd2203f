#!/usr/bin/env python3
"""Where the database's time goes under a load test, by statement (docs/benchmarks.md, "The database's side").

Have PostgreSQL log every statement with its duration, run a load, turn the log off again, then read the part
of the server's log the run wrote. With the embedded server (its log is var/pgdata/log) and the portal running:

    IP2A_ENV=dev .venv/bin/python manage.py dbshell -- -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
        -c "SELECT pg_reload_conf()"
    wc -c < var/pgdata/log > /tmp/log.start
    … run `manage.py loadtest --host …` …
    IP2A_ENV=dev .venv/bin/python manage.py dbshell -- -c "ALTER SYSTEM RESET log_min_duration_statement" \
        -c "SELECT pg_reload_conf()"
    tail -c +$(( $(cat /tmp/log.start) + 1 )) var/pgdata/log > /tmp/statements.log
    scripts/statement_log_ops.py /tmp/statements.log [ROWS]

Logging every statement costs the server time too: compare runs that both had it on. Statements are grouped
by their text with literals, numbers and IN lists replaced and pghistory's context prefix removed (the portal
binds values on the client, so the log holds them); prints, per group and heaviest first, its share of the
logged time, the total, the count and the mean. Durations are the server's wall time (waiting for the CPU
included). Standard library only.
"""

import re
import sys
from collections import defaultdict

ENTRY = re.compile(r"LOG:  duration: ([\d.]+) ms  (?:statement|execute [^:]*): (.*)")
NEW_LINE = re.compile(r"^\d{4}-\d\d-\d\d |^[A-Z]+:  ")  # another log entry (or its DETAIL/HINT lines)
CONTEXT_PREFIX = re.compile(r"^SELECT set_config\('pghistory\.context_id'.*?, true\);\s*", re.S)


def shape(sql: str) -> str:
    """The statement with its values replaced, so that runs of one statement group together."""
    sql = CONTEXT_PREFIX.sub("", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "N", sql)
    sql = re.sub(r"\(N(?:, N)*\)", "(N…)", sql)
    return re.sub(r"\s+", " ", sql).strip()


def read(path: str) -> dict[str, list[float]]:
    durations = defaultdict(list)
    current = None
    with open(path, errors="replace") as log:
        for line in log:
            found = ENTRY.search(line)
            if found or NEW_LINE.match(line):
                if current:
                    durations[shape(current[1])].append(current[0])
                current = [float(found.group(1)), found.group(2)] if found else None
            elif current is not None:
                current[1] += " " + line.strip()
    if current:
        durations[shape(current[1])].append(current[0])
    return durations


def main(path: str, rows: int) -> None:
    durations = read(path)
    total = sum(sum(values) for values in durations.values())
    count = sum(len(values) for values in durations.values())
    if not count:
        sys.exit(f"{path}: no 'duration: … ms  statement: …' lines (is log_min_duration_statement 0?)")
    print(f"{count} statements, {total / 1000:.1f} s of the server's time")
    print(f"{'share':>6} {'total ms':>9} {'count':>6} {'mean ms':>8}  statement")
    for sql, values in sorted(durations.items(), key=lambda item: -sum(item[1]))[:rows]:
        spent = sum(values)
        print(f"{spent / total:6.1%} {spent:9.0f} {len(values):6} {spent / len(values):8.2f}  {sql[:150]}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: scripts/statement_log_ops.py LOG [ROWS]")
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 20)
