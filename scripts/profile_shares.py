#!/usr/bin/env python3
"""Where the portal's workers spend their time, from a py-spy profile taken under load (docs/benchmarks.md).

Record the gunicorn workers while a load test runs (py-spy from PyPI; MASTER is the gunicorn master's pid):

    py-spy record --pid MASTER --subprocesses --format raw --rate 100 --duration 100 --nonblocking -o mix.raw

then:

    scripts/profile_shares.py mix.raw                  # share of the request samples by library
    scripts/profile_shares.py mix.raw --cpu            # the same, leaving out samples waiting on a socket
    scripts/profile_shares.py mix.raw --callers 'SQLCompiler.as_sql'   # which portal code calls a frame
    scripts/profile_shares.py mix.raw --cpu --under MemberDetailView   # one page's samples only
    scripts/profile_shares.py mix.raw --cpu --by-view      # by the view method, or the part outside the views

A sample under a template's rendering counts for the templates (with whatever they call); any other sample
for the innermost frame of a known library (psycopg, the ORM, …; "portal code" for this project's own).
Only samples inside a request (under WSGIHandler.__call__) count. Standard library only.
"""

import argparse
import re
import signal
import sys
from collections import Counter

GROUPS = [
    ("psycopg (waiting for PostgreSQL, sending, reading)", "psycopg/"),
    ("ORM: compiling SQL", "django/db/models/sql/compiler"),
    ("ORM: the rest", "django/db/models/"),
    ("database backend", "django/db/backends/"),
    ("forms", "django/forms/"),
    ("URLs", "django/urls/"),
    ("django-filter", "django_filters/"),
    ("gunicorn", "gunicorn/"),
    ("sessions", "django/contrib/sessions"),
    ("auth", "django/contrib/auth"),
    ("cache", "django/core/cache"),
    ("pghistory", "pghistory/"),
    ("django.utils", "django/utils/"),
    ("django.http", "django/http/"),
    ("middleware", "django/middleware/"),
]
APPS = ("ip2a", "members", "audit", "organizations", "training", "attachments")
WAITING = ("Connection.wait", "_execute_send", "SyncWorker.wait", "close_graceful", "recv", "sendall")
# A view's own method (named by the class that defines it: ObjectDetailView.get serves every record page).
VIEW_METHOD = re.compile(r"^\w+View\.(get|post|put|delete|dispatch) \(")


def samples(path: str, *, cpu: bool, under: str | None = None):
    """(frames, count) for each request sample of a py-spy raw file (only those with a frame containing
    ``under``, when given)."""
    with open(path) as raw:
        for line in raw:
            stack, _, count = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            if not any("WSGIHandler.__call__" in frame for frame in frames):
                continue
            if cpu and any(name in frames[-1] for name in WAITING):
                continue
            if under and not any(under in frame for frame in frames):
                continue
            yield frames, int(count)


def is_portal(frame: str) -> bool:
    return frame.rsplit("(", 1)[-1].split("/")[0] in APPS


def group_of(frames) -> str:
    if any("django/template/" in frame for frame in frames):
        return "templates (with all they call)"
    for frame in reversed(frames):
        for name, pattern in GROUPS:
            if pattern in frame:
                return name
        if is_portal(frame):
            return "portal code"
    return "other"


def place_of(frames) -> str:
    """The innermost view method a sample is under, or which part of the request outside the views."""
    views = [frame for frame in frames if VIEW_METHOD.match(frame)]
    if views:
        return "view " + views[-1].partition(" (")[0]
    if any(frame.startswith("get_user (") for frame in frames):
        return "outside the views: the session and its user read"
    if any(frame.startswith("SimpleTemplateResponse.render (") for frame in frames):
        return "outside the views: the page's template (TemplateResponse)"
    return "outside the views: middleware, URL resolving, the handler"


def short(frame: str) -> str:
    function, _, where = frame.partition(" (")
    return f"{function}:{where.rstrip(')').rsplit(':', 1)[-1]}"


def main() -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quietly stop when piped into head
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", help="py-spy --format raw output")
    parser.add_argument("--cpu", action="store_true", help="leave out samples waiting on a socket")
    parser.add_argument("--under", metavar="FRAME", help="only samples under FRAME (e.g. MemberDetailView)")
    parser.add_argument("--callers", metavar="FRAME", help="share of samples under FRAME, by the portal code above it")
    parser.add_argument("--by-view", action="store_true", help="share of samples by view method, or outside them")
    args = parser.parse_args()
    shares, total = Counter(), 0
    for frames, count in samples(args.raw, cpu=args.cpu, under=args.under):
        total += count
        if args.callers:
            hits = [index for index, frame in enumerate(frames) if args.callers in frame]
            if hits:
                callers = [short(frame) for frame in frames[: hits[0]] if is_portal(frame)][-2:]
                shares[" < ".join(reversed(callers)) or "(no portal code)"] += count
        elif args.by_view:
            shares[place_of(frames)] += count
        else:
            shares[group_of(frames)] += count
    if not total:
        print("no request samples", file=sys.stderr)
        return 1
    print(f"{total} request samples{' (waiting left out)' if args.cpu else ''}")
    for name, count in shares.most_common(25):
        print(f"{count / total * 100:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
