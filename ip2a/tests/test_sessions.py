"""The session store (ip2a/sessions.py): once a worker knows which user a session signs in, the session and the
user are read in one statement, and the user read that way is as fresh as a read of its own."""

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ip2a import sessions
from ip2a.sessions import SessionStore, prefetched_user, take_prefetched_user, user_columns

pytestmark = pytest.mark.django_db

PAGE = "/members/"


@pytest.fixture
def signed_in(client, make_user):
    """A client signed in as a staff user, after one request (so this process knows its session's user)."""
    user = make_user("staff", username="sasha")
    client.force_login(user)
    assert client.get(PAGE).status_code == 200
    return client, user


def user_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and 'FROM "auth_user"' in q["sql"]]


def test_the_first_request_of_a_session_reads_the_user_on_its_own(client, make_user):
    client.force_login(make_user("staff", username="sasha"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PAGE)
    assert response.status_code == 200
    assert len(user_reads(queries)) == 1
    assert not any('JOIN "auth_user"' in q["sql"] for q in queries)


def test_a_known_session_reads_its_user_in_the_same_statement(signed_in):
    client, user = signed_in
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PAGE)
    assert response.status_code == 200
    assert response.wsgi_request.user == user
    assert user_reads(queries) == []
    joined = [q["sql"] for q in queries if 'LEFT JOIN "auth_user"' in q["sql"]]
    assert len(joined) == 1
    assert 'FROM "django_session"' in joined[0]
    assert prefetched_user.get() is None  # handed to the backend, not left for a later request


def test_a_user_deactivated_between_requests_is_signed_out(signed_in):
    client, user = signed_in
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_password_changed_elsewhere_ends_the_session(signed_in):
    client, user = signed_in
    user.set_password("another long password")
    User.objects.filter(pk=user.pk).update(password=user.password)  # the row only: no session hash update here
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_deleted_user_is_signed_out(signed_in):
    client, user = signed_in
    User.objects.filter(pk=user.pk).delete()
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_row_read_in_an_earlier_request_is_never_used(client, make_user):
    user = make_user("staff", username="sasha")
    client.force_login(user)
    with connection.cursor() as cursor:  # the row as it is now, active
        cursor.execute(f'SELECT {user_columns(connection)} FROM "auth_user" WHERE id = %s', [user.pk])
        active_row = cursor.fetchone()
    User.objects.filter(pk=user.pk).update(is_active=False)
    sessions._session_users.clear()  # this request reads the user on its own, with whatever is left over
    prefetched_user.set((user.pk, active_row))  # left over, e.g. from a request that never looked at its user
    response = client.get(PAGE)
    assert response.status_code == 302  # the request started by forgetting it and read the inactive user


def test_a_prefetched_row_is_handed_out_once_and_only_for_its_user():
    prefetched_user.set((7, ("row",)))
    assert take_prefetched_user(8) == (False, None)
    assert prefetched_user.get() is None
    prefetched_user.set((7, None))  # the session named a user that no longer exists
    assert take_prefetched_user(7) == (True, None)
    assert take_prefetched_user(7) == (False, None)


def test_a_renewal_writes_the_existing_row_with_one_update_and_no_transaction_of_its_own(signed_in, monkeypatch):
    client, _user = signed_in
    monkeypatch.setattr("ip2a.middleware.RENEW_AFTER_SECONDS", 0)  # renew on this request
    before = Session.objects.get()

    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200

    after = Session.objects.get()
    writes = [q["sql"] for q in queries if 'UPDATE "django_session"' in q["sql"]]
    assert len(writes) == 1
    assert not any(q["sql"].startswith(("SAVEPOINT", "BEGIN")) for q in queries)
    assert after.session_key == before.session_key
    assert after.expire_date > before.expire_date
    assert after.get_decoded()["last_seen"] >= before.get_decoded().get("last_seen", 0)


def test_saving_a_session_whose_row_is_gone_raises_update_error_as_django_does(signed_in):
    client, _user = signed_in
    store = SessionStore(session_key=client.session.session_key)
    store["anything"] = 1
    Session.objects.all().delete()

    with pytest.raises(UpdateError):
        store.save()


def test_a_renewal_the_database_refuses_raises_update_error(signed_in):
    """The one-statement UPDATE turns the database's refusal into Django's UpdateError, as Django's own save
    does (a trigger refuses it here: a real error from PostgreSQL, no mocked cursor). The save has no savepoint
    of its own, so the test gives it one; the portal saves sessions outside any transaction."""
    client, _user = signed_in
    store = SessionStore(session_key=client.session.session_key)
    store["anything"] = 1
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'session rows are read-only here'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_session_update BEFORE UPDATE ON django_session "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
        )

    with pytest.raises(UpdateError) as refused, transaction.atomic():
        store.save()

    assert "session rows are read-only here" in str(refused.value.__cause__)
    assert "anything" not in Session.objects.get(session_key=store.session_key).get_decoded()


def test_a_new_session_is_created_by_djangos_own_save():
    store = SessionStore()
    store["anything"] = 1
    store.save()

    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"anything": 1}
