"""Who may do what, read once per user and change of the role tables instead of three queries per request.

Django's ModelBackend asks the database for a user's own and group permissions on every request (the request's
user is a fresh object each time), and the roles (ip2a.roles.user_roles) cost a third query. Both are a
function of the user's groups, the groups' permissions and the user's own permissions, which change only
when an admin edits them. So they are kept per user and *auth version*: a token in the shared cache that any
change to those tables replaces (immediately, and again when the change commits, so a request reading between
the two cannot keep the old grants). Each worker keeps them in its memory, and the shared cache keeps them for
the other workers, so a user's grants are usually read from the database once per version, not once per
worker. One shared-cache read per request replaces the queries; a revoked permission takes effect on the next
request in every worker.
"""

import contextlib
import functools
import hashlib
from collections import OrderedDict
from typing import NamedTuple

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connections, router, transaction
from django.db.models import CharField, Q, Value
from django.db.models.signals import m2m_changed, post_delete, post_save

from ip2a import routers
from ip2a.caching import cache_token, database_scope, new_token, remember
from ip2a.sessions import take_prefetched_user, user_columns, user_from_row

VERSION_KEY = "ip2a:auth-version"
KEPT = 2_000  # users' grants kept per worker (least recently used dropped first)
SHARED_SECONDS = 3_600  # and in the shared cache, for the other workers (an auth version retires them sooner)

_grants: OrderedDict = OrderedDict()


class Grants(NamedTuple):
    roles: frozenset[str]
    permissions: frozenset[str]

    @property
    def digest(self) -> str:
        """The same for every user holding exactly these roles and permissions (a cache key part for pages
        that depend on what the user may do, not on who they are)."""
        return _digest(self.roles, self.permissions)


@functools.lru_cache(maxsize=256)
def _digest(roles: frozenset[str], permissions: frozenset[str]) -> str:
    """Grants.digest, worked out once per set of grants in a process (a page asks for it on every request)."""
    return hashlib.sha256(repr((sorted(roles), sorted(permissions))).encode()).hexdigest()[:32]


def auth_version() -> str:
    return cache_token(VERSION_KEY)


def bump_auth_version(**_signal_kwargs) -> None:
    """Retire the grants every worker holds: now, and once more when the current transaction commits."""
    new_token(VERSION_KEY)
    transaction.on_commit(lambda: new_token(VERSION_KEY))


def grants(user) -> Grants:
    """The user's role names and permission names ("app.codename"), cached as the module says."""
    if not user.is_authenticated:
        return Grants(frozenset(), frozenset())
    kept = getattr(user, "_ip2a_grants", None)  # a request's user object: read once per request
    if kept is not None:
        return kept
    user._ip2a_grants = found = _grants_of(user)
    return found


def _grants_of(user) -> Grants:
    """The user's grants from this worker's memo, else from the shared cache (read by another worker), else
    from the database (then shared): each user's grants are usually read once per auth version, not once per
    worker. Both keys hold the version, so a change to the role tables retires every copy at once.

    Grants read inside a write transaction are kept by neither: they may hold that transaction's own change to
    the role tables, which bumped the version at once but may still roll back (and then never bump it again)."""
    version = auth_version()
    key = (user.pk, user.is_superuser, version)
    found = _grants.get(key)
    if found is not None:
        with contextlib.suppress(KeyError):  # another thread may have dropped it meanwhile
            _grants.move_to_end(key)
        return found
    shared_key = _shared_key(user, version)
    found = cache.get(shared_key)
    if found is None:
        found = read_grants(user)
        if routers.in_write_transaction():
            return found
        cache.set(shared_key, found, SHARED_SECONDS)
    remember(_grants, key, found, KEPT)
    return found


def _shared_key(user, version: str) -> str:
    """The shared cache's key of a user's grants, under the database's scope (ip2a.caching.database_scope)."""
    scope = database_scope(router.db_for_read(User))
    return f"ip2a:grants:{scope}:{user.pk}:{int(user.is_superuser)}:{version}"


def read_grants(user) -> Grants:
    """The user's group names and permissions (own and through groups; all of them for a superuser, as
    ModelBackend gives) in one query.

    The permissions are picked by id from the user's own and their groups' grants. ModelBackend's filter
    (``Q(user=user) | Q(group__user=user)``) joins each permission to every member of every group holding it
    and only then keeps this user's rows: with 500 staff accounts that statement took ~20 ms of the database's
    time and was its most costly one under the load test (PostgreSQL's statement log, docs/benchmarks.md)."""
    none = Value(None, output_field=CharField())
    groups = user.groups.values_list("name", none, none)
    permissions = Permission.objects.all()
    if not user.is_superuser:
        own = User.user_permissions.through.objects.filter(user_id=user.pk).values("permission_id")
        memberships = User.groups.through.objects.filter(user_id=user.pk).values("group_id")
        through_groups = Group.permissions.through.objects.filter(group_id__in=memberships).values("permission_id")
        permissions = permissions.filter(Q(pk__in=own) | Q(pk__in=through_groups))
    permissions = permissions.values_list(none, "content_type__app_label", "codename")
    names, granted = set(), set()
    for name, app_label, codename in groups.union(permissions, all=True):
        if name is not None:
            names.add(name)
        else:
            granted.add(f"{app_label}.{codename}")
    return Grants(frozenset(names), frozenset(granted))


class CachedPermissionBackend(ModelBackend):
    """ModelBackend whose permission set comes from grants() (same rules: none for inactive users), and whose
    per-request user read is one plain statement (the ORM's get() costs ~0.5 ms of CPU here, this ~0.15), or none
    when the session's read brought the row along (ip2a/sessions.py)."""

    def get_user(self, user_id):
        connection = connections[router.db_for_read(User)]
        found, row = take_prefetched_user(user_id)  # read with this request's session (ip2a/sessions.py)
        if not found:
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {user_columns(connection)} FROM {quote(User._meta.db_table)} "
                    f"WHERE {quote(User._meta.pk.column)} = %s",
                    [user_id],
                )
                row = cursor.fetchone()
        if row is None:
            return None
        user = user_from_row(connection.alias, row)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = set(grants(user_obj).permissions)
        return user_obj._perm_cache


# What grants() reads: group membership, group and user permissions, the groups and permissions themselves.
for _through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(bump_auth_version, sender=_through, dispatch_uid=f"ip2a-auth-{_through.__name__}")
for _model in (Group, Permission):
    post_save.connect(bump_auth_version, sender=_model, dispatch_uid=f"ip2a-auth-save-{_model.__name__}")
    post_delete.connect(bump_auth_version, sender=_model, dispatch_uid=f"ip2a-auth-delete-{_model.__name__}")
