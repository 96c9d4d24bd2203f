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

Given several logs (runs of two trees in turn: scripts/ab_ops.sh), it prints one column per run instead: the
mean time of each of the six heaviest operations (`--heaviest N`, given first, for more), the run's mean, and
each operation's time as a multiple of its run's mean. On a VM whose speed drifts between runs (two runs of the
same code 18 % apart, docs/benchmarks.md, session 14), that ratio is the steadier comparison: the operations of
one run share the machine's speed of the moment.

`--parts N` with one log compares its N consecutive parts (in the order requests ended) in the same way: whether
the operations got slower as a long run went on, and whether all of them did (the machine) or only those whose
data grew.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

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


def request_lines(path: str) -> list[tuple[str, str, float]]:
    """(method, target, ms) of each request line of one access log."""
    requests = []
    with open(path) as log:
        for line in log:
            parts = line.split()
            if len(parts) >= 4 and parts[3].isdigit():
                requests.append((parts[0], parts[1], int(parts[3]) / 1000))
    if not requests:
        sys.exit(f"{path}: no request lines in the format '%(m)s %(U)s?%(q)s %(s)s %(D)s'")
    return requests


def by_operation(requests) -> dict[str, list[float]]:
    """{operation: [ms, …]} of (method, target, ms) requests."""
    times = defaultdict(list)
    for method, target, ms in requests:
        times[operation(method, target)].append(ms)
    return times


def read(path: str) -> dict[str, list[float]]:
    """{operation: [ms, …]} of one access log."""
    return by_operation(request_lines(path))


def mean(values) -> float:
    return sum(values) / len(values)


def report(times: dict[str, list[float]]) -> list[str]:
    """The table of one run."""
    total = sum(sum(values) for values in times.values())
    count = sum(len(values) for values in times.values())
    lines = [f"{'operation':40} {'count':>6} {'share':>6} {'mean ms':>8} {'median':>7} {'time share':>10}"]
    for name, values in sorted(times.items(), key=lambda item: -sum(item[1])):
        values = sorted(values)
        lines.append(
            f"{name:40} {len(values):6} {len(values) / count:6.1%} {mean(values):8.1f} "
            f"{values[len(values) // 2]:7.1f} {sum(values) / total:10.1%}"
        )
    lines.append(f"{count} requests, mean {total / count:.1f} ms in the portal")
    return lines


def compare(runs: dict[str, dict[str, list[float]]], heaviest: int = 6) -> list[str]:
    """One column per run: the mean ms of the operations with the most portal time over all runs, the run's
    mean, then each of those operations as a multiple of its run's mean. An operation a run lacks shows "-".
    Requests outside the mix ("other …": form logins, health checks) are left out, as the load test's own totals
    leave out its logins: a few logins of a second each would move a short run's mean."""
    runs = {label: {n: v for n, v in times.items() if not n.startswith("other ")} for label, times in runs.items()}
    weight = defaultdict(float)
    for times in runs.values():
        for name, values in times.items():
            weight[name] += sum(values)
    names = sorted(weight, key=lambda name: -weight[name])[:heaviest]
    # A run (or a part of one) may hold no request of the mix: its columns show "-".
    all_values = {label: [v for values in times.values() for v in values] for label, times in runs.items()}
    run_means = {label: mean(values) if values else None for label, values in all_values.items()}
    width = max(len(label) for label in runs) + 2

    def row(title: str, cell) -> str:
        return f"{title:34}" + "".join(f"{cell(label):>{max(width, 7)}}" for label in runs)

    def of(label, name, *, ratio=False) -> str:
        values = runs[label].get(name)
        if not values:
            return "-"
        return f"{mean(values) / run_means[label]:.2f}" if ratio else f"{mean(values):.1f}"

    lines = [row("mean ms in the portal", lambda label: label)]
    lines += [row(name, lambda label, name=name: of(label, name)) for name in names]
    lines.append(row("all requests", lambda label: "-" if run_means[label] is None else f"{run_means[label]:.1f}"))
    lines.append("as a multiple of the run's mean:")
    lines += [row(name, lambda label, name=name: of(label, name, ratio=True)) for name in names]
    return lines


def main(paths: list[str], heaviest: int = 6, parts: int = 1) -> None:
    if parts > 1:
        requests = request_lines(paths[0])
        if parts > len(requests):
            sys.exit(f"{paths[0]}: {len(requests)} requests cannot make {parts} parts")
        size = len(requests) / parts
        chunks = [requests[round(index * size) : round((index + 1) * size)] for index in range(parts)]
        runs = {f"{index + 1}/{parts}": by_operation(chunk) for index, chunk in enumerate(chunks)}
        print("\n".join(compare(runs, heaviest)))
        return
    if len(paths) == 1:
        print("\n".join(report(read(paths[0]))))
        return
    labels = [Path(path).stem.removeprefix("access-") for path in paths]
    if len(set(labels)) != len(labels):
        labels = paths
    runs = {label: read(path) for label, path in zip(labels, paths, strict=True)}
    print("\n".join(compare(runs, heaviest)))


USAGE = "usage: scripts/access_log_ops.py [--heaviest N] [--parts N] ACCESS_LOG [ACCESS_LOG …]"


def arguments(argv: list[str]) -> tuple[list[str], int, int]:
    """(access logs, how many operations a comparison shows, parts of one log to compare) from the command
    line."""
    numbers = {"--heaviest": 6, "--parts": 1}
    wanted = {
        "--heaviest": "a number of operations, e.g. --heaviest 14",
        "--parts": "a number of parts, e.g. --parts 6",
    }
    while argv[:1] and argv[0] in numbers:
        if len(argv) < 2 or not argv[1].isdigit() or int(argv[1]) < 1:
            sys.exit(f"{argv[0]} needs {wanted[argv[0]]}")
        numbers[argv[0]], argv = int(argv[1]), argv[2:]
    if not argv:
        sys.exit(USAGE)
    if numbers["--parts"] > 1 and len(argv) != 1:
        sys.exit("--parts splits one access log: give exactly one")
    return argv, numbers["--heaviest"], numbers["--parts"]


if __name__ == "__main__":
    main(*arguments(sys.argv[1:]))
