#!/usr/bin/env python3
"""Where the portal's time goes under a load test, by operation (docs/benchmarks.md, "First views cheaper").

Serve the portal with an access log of each request's time in microseconds:

    GUNICORN_ACCESS_LOG=/tmp/access.log \
    GUNICORN_CMD_ARGS="--access-logformat '%(m)s %(U)s?%(q)s %(s)s %(D)s'" \
    DEBUG=false IP2A_ENV=dev .venv/bin/python manage.py serve --port 8124 --no-seed

run `manage.py loadtest … --host http://127.0.0.1:8124` against it below saturation (so a request's time is its
own, not time spent queued), then:

    scripts/access_log_ops.py /tmp/access.log

Prints, per operation of the Locust mix (locustfile.py), the requests, their share, the mean and median time in
the portal and the share of the portal's time. Standard library only.
"""

import re
import sys
from collections import defaultdict

OPERATIONS = [
    (r"^/members/$", "member list"),
    (r"^/members/\d+/$", "member detail"),
    (r"^/members/new/$", "create member"),
    (r"^/members/\d+/edit/$", "update member"),
    (r"^/members/\d+/employments/new/$", "add employment"),
    (r"^/members/employments/\d+/end/$", "end employment"),
    (r"^/organizations/\d+/contacts/new/$", "add contact"),
    (r"^/organizations/$", "organization list"),
    (r"^/training/students/$", "student list"),
    (r"^/attachments/members/member/\d+/new/$", "upload attachment"),
    (r"^/attachments/\d+/download/$", "download attachment"),
]
FILTERED = re.compile(r"[?&](status|classification|q)=")


def operation(method: str, target: str) -> str:
    path, _, query = target.partition("?")
    if method == "GET" and path == "/members/" and FILTERED.search(f"?{query}"):
        return "member list filtered/search"
    for pattern, name in OPERATIONS:
        if re.match(pattern, path):
            return f"{name} {method}"
    return f"other {method} {path[:30]}"


def main(path: str) -> None:
    times = defaultdict(list)
    with open(path) as log:
        for line in log:
            parts = line.split()
            if len(parts) >= 4 and parts[3].isdigit():
                times[operation(parts[0], parts[1])].append(int(parts[3]) / 1000)
    total = sum(sum(values) for values in times.values())
    count = sum(len(values) for values in times.values())
    if not count:
        sys.exit(f"{path}: no request lines in the format '%(m)s %(U)s?%(q)s %(s)s %(D)s'")
    print(f"{'operation':40} {'count':>6} {'share':>6} {'mean ms':>8} {'median':>7} {'time share':>10}")
    for name, values in sorted(times.items(), key=lambda item: -sum(item[1])):
        values.sort()
        print(
            f"{name:40} {len(values):6} {len(values) / count:6.1%} {sum(values) / len(values):8.1f} "
            f"{values[len(values) // 2]:7.1f} {sum(values) / total:10.1%}"
        )
    print(f"{count} requests, mean {total / count:.1f} ms in the portal")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/access_log_ops.py ACCESS_LOG")
    main(sys.argv[1])
