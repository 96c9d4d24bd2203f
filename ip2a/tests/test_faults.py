"""Faults (issue #8, item 4): storage that refuses a write (full or not writable) through the upload page,
the database cutting every connection of a running portal (what a PostgreSQL restart does to them), and a
worker killed while requests run, both against gunicorn started as in production.

Already covered elsewhere: a full disk at the service level (attachments/tests/test_services.py), an
import failing on its third row writes nothing (ip2a/tests/test_imports.py).
"""

import errno
import os
import signal
import threading
import time
from pathlib import Path

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
    """What a PostgreSQL restart does to the workers' persistent connections, while requests run: each is cut.
    Requests in flight may fail; health-checked connections (CONN_HEALTH_CHECKS) notice on the next request
    and reconnect, so every later request succeeds and no worker needs a restart."""
    from django.db import connection

    from ip2a.loadtest import start_portal, stop_portal

    MemberFactory.create_batch(3)
    cookie = signed_in_cookie(make_user("staff"))
    portal = start_portal(tmp_path / "gunicorn.log")
    try:
        assert [status_of(portal.host, "/members/", cookie) for _ in range(9)] == [200] * 9  # workers connected
        in_flight = []
        threads = [
            threading.Thread(target=lambda: in_flight.append(status_of(portal.host, "/members/", cookie)))
            for _ in range(12)
        ]
        for thread in threads:
            thread.start()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            assert cursor.fetchone()[0] >= 1
        for thread in threads:
            thread.join(timeout=60)
        assert set(in_flight) <= {200, 500}  # a request whose connection was cut under it fails, cleanly

        assert [status_of(portal.host, "/members/", cookie) for _ in range(9)] == [200] * 9
    finally:
        stop_portal(portal)


# --- A worker killed mid-request ----------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's worker processes (its children, from /proc)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == master:
                children.append(int(entry))
    return sorted(children)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_request_leaves_nothing_half_written(make_user, tmp_path):
    """Forty members created at once while one worker is killed (SIGKILL): a request either completes or
    leaves nothing behind (each create is one transaction), every member that exists is whole with its
    history, the master starts a new worker, and the portal answers the next request."""
    import requests

    from ip2a.loadtest import form_fields, start_portal, stop_portal
    from members.models import Member

    name, key = signed_in_cookie(make_user("staff")).split("=")
    portal = start_portal(tmp_path / "gunicorn.log")
    try:
        first = requests.Session()
        first.cookies.set(name, key)
        fields = form_fields(first.get(portal.host + "/members/new/", timeout=30).text)
        csrf = first.cookies.get("csrftoken")
        workers = worker_pids(portal.process.pid)
        assert len(workers) >= 2
        outcomes = []

        def create(number: int) -> None:
            http = requests.Session()
            http.cookies.update({name: key, "csrftoken": csrf})
            data = {**fields, "member_number": f"77{number:05d}", "first_name": "Kill", "last_name": f"Test {number}"}
            data |= {"status": "active", "classification": "journeyman"}
            try:
                outcomes.append(http.post(portal.host + "/members/new/", data=data, allow_redirects=False).status_code)
            except requests.RequestException:
                outcomes.append("dropped")  # the worker died with the request

        threads = [threading.Thread(target=create, args=(number,)) for number in range(40)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        os.kill(workers[0], signal.SIGKILL)
        for thread in threads:
            thread.join(timeout=60)

        assert set(outcomes) <= {302, "dropped"}
        created = Member.objects.filter(first_name="Kill")
        assert outcomes.count(302) <= created.count() <= 40
        inserted = set(Member.pgh_event_model.objects.filter(pgh_label="insert").values_list("pgh_obj_id", flat=True))
        assert set(created.values_list("pk", flat=True)) <= inserted  # every member has its creation event
        deadline = time.monotonic() + 30
        while len(worker_pids(portal.process.pid)) < len(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers[0] not in worker_pids(portal.process.pid)
        assert len(worker_pids(portal.process.pid)) == len(workers)  # the master replaced the killed worker
        assert first.get(portal.host + "/members/", timeout=30).status_code == 200
    finally:
        stop_portal(portal)
