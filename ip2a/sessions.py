"""Sessions in the database, read with one plain SQL statement that also reads the signed-in user.

Django's database session store reads the session through the ORM on every request: building and compiling
that query cost ~0.8 ms of CPU here, against ~0.15 ms for the same statement written out (timed ad hoc with
timeit in `manage.py shell`, not a recorded benchmark), on every page a signed-in user opens. Storage,
expiry, creating and deleting are Django's own (django.contrib.sessions.backends.db); the read differs, and so
does writing an existing session (its renewal, once a minute per user: one UPDATE in autocommit, see save()).

Then Django reads the user the session names, a second statement on every request (CachedPermissionBackend,
ip2a/auth.py). A session key names the same user for its whole life (Django's login() gives the session a new
key, logout() ends it), so once this worker has decoded a session it knows the user and reads that user's row
with the session row in one statement (a LEFT JOIN on the known id) the next time. The row is handed to the
backend for this request only (``prefetched_user``, cleared as every request starts) and only for that user
id: the backend reads the user itself for any other id, and Django's checks of the session (the user's
session hash, is_active) run on the row as before.
"""

from collections import OrderedDict
from contextvars import ContextVar

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.core.exceptions import ValidationError
from django.core.signals import request_started
from django.db import DatabaseError, connections, router
from django.utils import timezone

from ip2a.caching import remember
from ip2a.database.base import prepared

USERS_KEPT = 10_000  # session keys whose user this worker remembers (the oldest dropped first)

_session_users: OrderedDict = OrderedDict()  # session key -> the user id it signs in, in this worker
# (user id, the user's column values or None when there is no such user) read with this request's session.
prefetched_user: ContextVar = ContextVar("ip2a_prefetched_user", default=None)


def user_columns(connection, prefix: str = "") -> str:
    """The user table's columns, quoted, in User's concrete-field order (what user_from_row() takes)."""
    quote = connection.ops.quote_name
    return ", ".join(prefix + quote(field.column) for field in User._meta.concrete_fields)


def user_from_row(alias: str, row) -> User:
    return User.from_db(alias, [field.attname for field in User._meta.concrete_fields], row)


def _forget_prefetched_user(**_kwargs) -> None:
    prefetched_user.set(None)


request_started.connect(_forget_prefetched_user, dispatch_uid="ip2a-sessions-forget-prefetched-user")


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """The live session row with this key, or None (and no key: a new session), as Django's store; with
        the user's row when this worker knows which user the key signs in and both tables are on one alias."""
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        user_id = _session_users.get(self.session_key)
        if user_id is not None and router.db_for_read(User) != alias:
            user_id = None
        columns, join, params = "", "", [self.session_key, timezone.now()]
        if user_id is not None:
            users, user_pk = quote(User._meta.db_table), quote(User._meta.pk.column)
            columns = f", u.{user_pk} IS NOT NULL, {user_columns(connection, 'u.')}"
            join, params = f" LEFT JOIN {users} u ON u.{user_pk} = %s", [user_id, *params]
        with connection.cursor() as cursor:
            cursor.execute(
                prepared(
                    f"SELECT s.session_data, s.expire_date{columns} FROM {table} s{join} "
                    "WHERE s.session_key = %s AND s.expire_date > %s"
                ),
                params,
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        if user_id is not None:
            prefetched_user.set((user_id, row[3:] if row[2] else None))
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])

    def save(self, must_create=False):
        """Django's save, but an existing session's row (the renewal SessionIdleMiddleware asks for at most once a
        minute, or a flash message) is written by one UPDATE in autocommit instead of a model save in a
        transaction of its own (BEGIN, the ORM's compiled UPDATE, COMMIT): the same columns written, and
        UpdateError when the row is gone or the database refuses, as Django raises. Creating a session is Django's
        own. Unlike Django's save, no savepoint of its own: a failure inside a caller's transaction aborts that
        transaction; the portal saves sessions in SessionMiddleware, after the view, outside any transaction."""
        if must_create or self.session_key is None:
            return super().save(must_create)
        connection = connections[router.db_for_write(self.model)]
        data = self._get_session()
        quote, meta = connection.ops.quote_name, self.model._meta
        data_column, expiry_column, key_column = (
            quote(meta.get_field(name).column) for name in ("session_data", "expire_date", "session_key")
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {quote(meta.db_table)} SET {data_column} = %s, {expiry_column} = %s "
                    f"WHERE {key_column} = %s",
                    [self.encode(data), self.get_expiry_date(), self.session_key],
                )
                updated = cursor.rowcount
        except DatabaseError as exc:
            raise UpdateError from exc
        if updated != 1:
            raise UpdateError

    def load(self):
        data = super().load()
        signed_in = data.get(SESSION_KEY)
        if self.session_key is not None and signed_in is not None:
            try:
                remember(_session_users, self.session_key, User._meta.pk.to_python(signed_in), USERS_KEPT)
            except ValidationError:  # a malformed id: Django's own read refuses it
                _session_users.pop(self.session_key, None)
        return data


def take_prefetched_user(user_id):
    """(True, the user's row or None) when this request's session read that user's row, else (False, None);
    the row is handed out once."""
    found = prefetched_user.get()
    prefetched_user.set(None)
    if found is None or found[0] != user_id:
        return False, None
    return True, found[1]
