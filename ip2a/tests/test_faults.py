"""Faults (issue #8, item 4): storage that refuses a write (full or not writable) through the upload page,
and the database cutting every connection of a running portal (what a PostgreSQL restart does to them),
against gunicorn started as in production. A worker killed mid-request is not automated yet.

Already covered elsewhere: a full disk at the service level (attachments/tests/test_services.py), an
import failing on its third row writes nothing (ip2a/tests/test_imports.py).
"""

import errno

import pytest

from attachments.factories import PDF_BYTES
from attachments.models import Attachment
from ip2a.tests.test_hostile_files import post_upload, stored_files
from members.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("code", "text"), [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")]
)
def test_storage_refusing_a_write_gives_a_clear_400_and_leaves_no_row_and_no_file(
    role_client, attachments_dir, monkeypatch, code, text
):
    def refuse(name, content):
        raise OSError(code, text)

    monkeypatch.setattr(Attachment._meta.get_field("file").storage, "_save", refuse)
    member = MemberFactory()

    response = post_upload(role_client("staff"), member, "letter.pdf", PDF_BYTES, "application/pdf")

    assert response.status_code == 400
    assert "The file could not be stored; nothing was saved." in response.content.decode()
    assert not Attachment.all_objects.exists()
    assert stored_files(attachments_dir) == []


# --- The database dropping the portal's connections -----------------------------------------------------------


def signed_in_cookie(user) -> str:
    """A session cookie for ``user``, made as the login view makes one (committed: the portal is another process)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def status_of(host: str, path: str, cookie: str) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(host + path, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_portal_recovers_when_the_database_drops_every_connection(make_user, tmp_path):
    """What a PostgreSQL restart does to the workers' persistent connections: each is cut. Health-checked
    connections (CONN_HEALTH_CHECKS) notice on the next request and reconnect; no request fails and no worker
    needs a restart."""
    from django.db import connection

    from ip2a.loadtest import start_portal, stop_portal

    MemberFactory.create_batch(3)
    cookie = signed_in_cookie(make_user("staff"))
    portal = start_portal(tmp_path / "gunicorn.log")
    try:
        assert [status_of(portal.host, "/members/", cookie) for _ in range(9)] == [200] * 9  # workers connected
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            assert cursor.fetchone()[0] >= 1

        assert [status_of(portal.host, "/members/", cookie) for _ in range(9)] == [200] * 9
    finally:
        stop_portal(portal)
