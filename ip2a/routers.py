"""A read replica (DATABASE_REPLICA_URL): which queries may read from it, and the middleware that says so.

Only what a person reads on a read-only page goes to the replica: the GET and HEAD requests of the views that
declare ``reads_from_replica = True`` (lists and their exports, record pages, search, the dashboard, history).
Everything else reads from the primary (``default``): every other request, commands, the shell, any read
inside ``transaction.atomic()`` (a write's own reads must see the rows it is changing), and the tables that
decide who is signed in and what they may do (sessions, users, groups, permissions), so a revoked permission
or an ended session takes effect at once, not once the replica has caught up. Every write goes to the primary.

One exception: an instructor's scope is not a permission but rows read with the page's own (the cohorts their
Instructor record is assigned to, training.models.own_cohort_ids), so on a read-only page it comes from the
replica. Removing an instructor from a cohort, or deleting their Instructor record, takes that cohort's
students, sessions and attendance off their lists, record pages, search, dashboard and history only once the
replica has replayed the change: up to its lag later (the pin below is for the browser that wrote, not the
instructor's). Pages that write, and attachment downloads, read on the primary and apply it at once.

Read-your-writes: after any request that may write (POST, PUT, PATCH, DELETE) the browser gets a cookie that
sends its reads to the primary for DATABASE_REPLICA_PIN_SECONDS, so the page a form redirects to shows the
change however far the replica lags behind.

Cached pages and numbers (ip2a.caching) are keyed on data versions read from the history event tables. Those
versions are read through the router too, on the same alias as the rows they key: versions taken from the
primary over rows from a lagging replica would file old rows under a new version.
"""

import contextlib
import contextvars
import logging
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
READ_METHODS = frozenset({"GET", "HEAD"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # any other may write: pin the browser after it
PIN_COOKIE = "ip2a_primary_until"
# Read from the primary only: who is signed in and what they may do (checked by the concrete model's app, so
# the audit app's proxies of the auth user count as auth).
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions"})

_replica_reads = contextvars.ContextVar("ip2a_replica_reads", default=False)


@contextlib.contextmanager
def replica_reads():
    """Let the reads inside the block go to the replica (the middleware does this for a read-only page)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def in_write_transaction() -> bool:
    """Whether the primary's connection is inside transaction.atomic() (conftest.py swaps in a version that
    leaves out the transaction Django's TestCase wraps each test in)."""
    return connections[DEFAULT_DB_ALIAS].in_atomic_block


def reading_from_replica() -> bool:
    """Whether a read made now may go to the replica: in a read-only page's request, outside a transaction."""
    return _replica_reads.get() and not in_write_transaction()


class PrimaryReplicaRouter:
    """Reads of read-only pages go to the replica, everything else to the primary (see the module)."""

    def db_for_read(self, model, **hints):
        if model._meta.concrete_model._meta.app_label in PRIMARY_ONLY_APPS or not reading_from_replica():
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # both aliases hold the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS  # the replica copies the primary's schema by itself


def pinned_to_primary(request) -> bool:
    """Whether the browser wrote within the last DATABASE_REPLICA_PIN_SECONDS (its pin cookie has not run out)."""
    try:
        return time.time() < int(request.COOKIES.get(PIN_COOKIE, ""))
    except ValueError:
        return False


def view_reads_from_replica(view_func) -> bool:
    """Whether a view (a class-based view's as_view() function, or a plain function) declares
    ``reads_from_replica = True``."""
    return bool(getattr(getattr(view_func, "view_class", view_func), "reads_from_replica", False))


class ReplicaMiddleware:
    """Send the reads of a read-only page's GET or HEAD to the replica, unless the browser is pinned to the
    primary; pin it after every request that may write. Last in MIDDLEWARE: its block spans the view and the
    rendering of its template, where lazy querysets are read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _replica_reads.set(False)
        try:
            response = self.get_response(request)
        finally:
            _replica_reads.reset(token)
        seconds = settings.DATABASE_REPLICA_PIN_SECONDS
        if request.method not in SAFE_METHODS and seconds:
            response.set_cookie(
                PIN_COOKIE,
                str(int(time.time()) + seconds),
                max_age=seconds,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in READ_METHODS and view_reads_from_replica(view_func) and not pinned_to_primary(request):
            _replica_reads.set(replica_available())


def replica_available() -> bool:
    """Whether the replica's connection is open or can be opened now. A replica that is down must not take the
    read-only pages with it: they read from the primary until it answers again (logged once per attempt).
    Cheap while the connection is open; a connection that broke meanwhile is closed by Django at the end of
    the request that met the error, so the next request tries to reconnect here."""
    replica = connections[REPLICA]
    try:
        replica.ensure_connection()
    except DatabaseError as exc:
        logger.warning("The read replica is unreachable (%s); reading from the primary.", exc)
        return False
    return True
