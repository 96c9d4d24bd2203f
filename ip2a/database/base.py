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

from django.db.backends.postgresql import base
from psycopg import pq


def has_input(fileno: int) -> bool:
    """Whether bytes (or the end of the stream) wait to be read on the descriptor; never blocks."""
    if hasattr(select, "poll"):  # select.select() cannot take descriptors above FD_SETSIZE
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fileno], [], [], 0)[0])


class DatabaseWrapper(base.DatabaseWrapper):
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
