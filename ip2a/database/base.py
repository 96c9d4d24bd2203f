"""The portal's database backend (ENGINE "ip2a.database"): Django's PostgreSQL backend with a health check that
costs no round trip while the connection is quiet.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before the first query of each request by sending
"SELECT 1" and waiting for its answer (DatabaseWrapper.is_usable): one more statement for every request the
portal serves, and a wait in which the worker serves nobody. The commit that added this module says what that
cost under load.

An idle connection receives nothing from PostgreSQL unless something happened to it: a server that ends it
(shutdown, restart, pg_terminate_backend, idle_session_timeout) sends an error and closes the socket; a notice,
a notification or a changed parameter also arrives unasked. So a quiet socket is a usable connection, and
anything waiting on it sends the check to Django's round trip, which reads it and decides. A peer that
vanished without closing (a cut network) is not detected by either check until TCP gives up.
"""

import select

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from psycopg import errors, pq
from psycopg._queries import PostgresClientQuery, PostgresQuery
from psycopg.client_cursor import ClientCursorMixin


def has_input(fileno: int) -> bool:
    """Whether bytes (or the end of the stream) wait to be read on the descriptor; never blocks."""
    if hasattr(select, "poll"):  # select.select() cannot take descriptors above FD_SETSIZE
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fileno], [], [], 0)[0])


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["cursor_factory"] = ReadPreparingCursor
        params["prepare_threshold"] = prepare_threshold(self.settings_dict["OPTIONS"])
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.prepared_max = PREPARED_MAX
        return connection

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()  # mid-transaction: let the server answer, as Django does
        try:
            quiet = not has_input(connection.fileno())
        except (OSError, ValueError):  # the descriptor is gone
            return False
        return quiet or super().is_usable()


# --- Reads as prepared statements ------------------------------------------------------------------------------
#
# PostgreSQL plans every statement it is sent; for the portal's hottest reads (the session, the data versions,
# a record's row, its owned rows and its history) the planning costs more than running them (docs/benchmarks.md,
# session 17). A prepared statement is planned once per connection and, once PostgreSQL finds a generic plan as
# good as the custom ones, not again. psycopg prepares a statement after PREPARE_THRESHOLD executions of the
# same text on a connection, but only with server-side binding, and the writes cannot use that: django-pghistory
# puts its context in front of each write as another statement in the same call ("SELECT set_config(…);
# INSERT …"), which the extended protocol refuses. And one generic plan for every value suits only statements
# whose best plan does not depend on the values: with every SELECT prepared, the 400-user mix's searches and
# list pages got slower (session 17). So a read is prepared only when its SQL, written once per process, says so
# (prepared()); everything else is bound on the client, as Django's default cursor does.
PREPARE_THRESHOLD = 5  # psycopg's default: a statement run this often on one connection is prepared
PREPARED_MAX = 512  # prepared statements kept per connection (psycopg's default, 100, is fewer than the pages use)
PREPARED_MARK = " /* prepared */"
STALE_PLAN = "cached plan must not change result type"
IDLE = pq.TransactionStatus.IDLE


def prepared(sql: str) -> str:
    """``sql``, one SELECT, marked to be bound on the server and prepared once repeated. Only for statements
    whose plan does not depend on their values (equality on keys, no search terms, no LIMIT from a value): a
    prepared statement ends up with one generic plan for all of them."""
    return sql + PREPARED_MARK


def prepare_threshold(options: dict) -> int | None:
    """psycopg's prepare_threshold: PREPARE_THRESHOLD unless DATABASE_URL says ``?prepare_threshold=N``, or
    ``=none`` for a pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.22,
    docs/scaling.md)."""
    value = options.get("prepare_threshold", PREPARE_THRESHOLD)
    if value is None or str(value).strip().lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"prepare_threshold must be a whole number or none, not {value!r}.") from None


def is_prepared_read(query) -> bool:
    """A single SELECT marked by prepared(): bound on the server, and prepared when repeated."""
    if isinstance(query, bytes):
        query = query.decode()
    return (
        isinstance(query, str)
        and query.endswith(PREPARED_MARK)
        and query.lstrip()[:6].upper() == "SELECT"
        and ";" not in query
    )


class ReadPreparingCursor(base.ServerBindingCursor):
    """Django's server-side binding cursor for the reads prepared() marks, its client-side binding cursor for
    every other statement."""

    _client_side = True
    _query_cls = PostgresClientQuery  # as _bind_on_client(True) sets them, until a statement is executed

    def execute(self, query, params=None, *, prepare=None, binary=None):
        marked = is_prepared_read(query)
        self._bind_on_client(not marked)
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except errors.FeatureNotSupported as exc:
            # A column a prepared read returns changed type (`migrate` in another process): PostgreSQL refuses the
            # prepared plan on every later use, and psycopg forgets its prepared statements only on a rollback or
            # a DEALLOCATE ALL. In autocommit (a request's reads) forget them and read again; in a transaction
            # the error has aborted it, and the rollback that follows forgets them.
            if not (marked and STALE_PLAN in str(exc) and self.connection.info.transaction_status == IDLE):
                raise
            self._bind_on_client(True)
            super().execute("DEALLOCATE ALL")  # psycopg clears its own record of them when it sees this
            self._bind_on_client(False)
            return super().execute(query, params, prepare=prepare, binary=binary)

    def executemany(self, query, params_seq, *, returning=False):
        self._bind_on_client(True)
        return super().executemany(query, params_seq, returning=returning)

    def _bind_on_client(self, client_side: bool) -> None:
        self._client_side = client_side
        self._query_cls = PostgresClientQuery if client_side else PostgresQuery

    def _execute_send(self, query, *, force_extended=False, binary=None):
        if self._client_side:
            return ClientCursorMixin._execute_send(self, query, force_extended=force_extended, binary=binary)
        return super()._execute_send(query, force_extended=force_extended, binary=binary)

    def _get_prepared(self, pgq, prepare=None):
        if self._client_side:
            return ClientCursorMixin._get_prepared(self, pgq, prepare)
        return super()._get_prepared(pgq, prepare)

    def mogrify(self, query, params=None):
        return ClientCursorMixin.mogrify(self, query, params)
