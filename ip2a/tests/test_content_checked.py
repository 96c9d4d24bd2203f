"""Lists kept by their rows' content (FilteredListView.content_checked, ip2a.content): a kept page stays served
while writes change other rows of its tables, shows any change to its own rows at once, and its footer always
counts the list as it is."""

import re
import threading

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ip2a import views
from ip2a.content import one_snapshot
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member
from organizations.factories import OrganizationContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

MEMBERS = reverse("members:member_list")
ORGANIZATIONS = reverse("organizations:organization_list")
KEPT = "generic/kept_page.html"


@pytest.fixture(autouse=True)
def _fresh_memo():
    views._kept_pages.clear()  # a worker's memo: tests must not find each other's pages


def kept_for(client, path, **extra):
    """Render a page until it is kept (the first render notes its key, the second writes it); the first."""
    first = client.get(path, **extra)
    client.get(path, **extra)
    return first


def tokens_removed(html: str) -> str:
    """The page without what differs on every request (CSRF token, CSP nonce)."""
    return re.sub(r'nonce="[^"]+"', "", re.sub(r"[A-Za-z0-9]{64}", "", html))


def members(count, prefix="A"):
    return [MemberFactory(last_name=f"{prefix}{index:03}") for index in range(count)]


def test_a_kept_page_stays_served_while_rows_it_does_not_show_change(role_client):
    first_page = members(3)
    other = MemberFactory(last_name="Zeller")
    client = role_client("staff")
    full = kept_for(client, MEMBERS, data={"q": "a0"})

    Member.objects.filter(pk=first_page[0].pk).update(phone="555-0100", notes="not a list column")
    Member.objects.filter(pk=other.pk).update(first_name="Renamed")  # not on this page
    page = client.get(MEMBERS, {"q": "a0"})

    assert page.templates[0].name == KEPT
    assert page.content.count(b"<tr>") == full.content.count(b"<tr>") == 4  # header and three members


def test_a_page_rendered_by_two_workers_is_served_by_every_worker(role_client):
    members(2)
    client = role_client("staff")
    full = client.get(MEMBERS)  # the first render notes the page's key in the shared cache
    views._kept_pages.clear()  # another worker: nothing noted in its own memory
    client.get(MEMBERS)  # it finds the note, renders the page and writes it

    views._kept_pages.clear()  # a third worker
    page = client.get(MEMBERS)

    assert full.templates[0].name != KEPT
    assert page.templates[0].name == KEPT
    assert tokens_removed(page.content.decode()) == tokens_removed(full.content.decode())


def test_a_note_left_by_a_release_with_other_fields_is_never_read(role_client, monkeypatch):
    members(2)
    client = role_client("staff")
    client.get(MEMBERS)  # notes the page's key
    views._kept_pages.clear()
    # A later release whose note has another field: it looks under another key and renders the page in full.
    monkeypatch.setattr(views.ContentCheckedPage, "_fields", (*views.ContentCheckedPage._fields, "new_field"))

    page = client.get(MEMBERS)

    assert page.status_code == 200
    assert page.templates[0].name != KEPT


def test_a_search_asked_for_once_writes_only_its_note(role_client, monkeypatch):
    members(2)
    client = role_client("staff")
    writes = []
    real_set = cache.set

    def counted_set(key, *args, **kwargs):
        writes.append(key)
        real_set(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", counted_set)

    client.get(MEMBERS, {"q": "a00"})

    assert len([key for key in writes if key.startswith("v:")]) == 1  # not the page: only its key's note


def test_a_kept_page_of_unchanged_tables_is_served_without_its_check_statement(role_client):
    members(3)
    client = role_client("staff")
    kept_for(client, MEMBERS)
    client.get(MEMBERS)  # served after its check; the key of its versions asked for twice: now written

    with CaptureQueriesContext(connection) as captured:
        page = client.get(MEMBERS)

    sql = [query["sql"] for query in captured.captured_queries]
    assert page.templates[0].name == KEPT
    assert "3 results" in page.content.decode()
    assert not any("md5(string_agg(" in query for query in sql)  # the versions said nothing moved
    assert sum("AS newest" in query for query in sql) == 1


def test_after_a_write_elsewhere_the_check_statement_serves_the_kept_page(role_client):
    rows = members(3)
    client = role_client("staff")
    kept_for(client, MEMBERS)
    Member.objects.filter(pk=rows[0].pk).update(phone="555-0100")  # not a list column

    with CaptureQueriesContext(connection) as captured:
        page = client.get(MEMBERS)

    sql = [query["sql"] for query in captured.captured_queries]
    assert page.templates[0].name == KEPT
    assert sum("md5(string_agg(" in query for query in sql) == 1


def test_a_kept_page_shows_a_change_to_its_own_rows_at_once(role_client):
    job = MemberEmploymentFactory(member__last_name="Aalto", organization__name="Old Name Electric")
    client = role_client("staff")
    kept_for(client, MEMBERS)

    Member.objects.filter(pk=job.member_id).update(last_name="Aaltonen")
    html = client.get(MEMBERS).content.decode()
    assert "Aaltonen" in html

    type(job.organization).objects.filter(pk=job.organization_id).update(name="New Name Electric")
    html = client.get(MEMBERS).content.decode()
    assert "New Name Electric" in html
    assert "Old Name Electric" not in html


def test_a_change_to_a_shown_row_costs_one_check_statement_and_keeps_the_new_content(role_client):
    rows = members(3)
    client = role_client("staff")
    kept_for(client, MEMBERS)
    Member.objects.filter(pk=rows[0].pk).update(last_name="A000-renamed")

    with CaptureQueriesContext(connection) as captured:
        full = client.get(MEMBERS)  # the check finds no content for the new rows: the render reuses the check
    sql = [query["sql"] for query in captured.captured_queries]  # read before the next request clears the log
    page = client.get(MEMBERS)

    assert full.templates[0].name != KEPT
    assert sum("md5(string_agg(" in query for query in sql) == 1
    assert page.templates[0].name == KEPT  # the full render kept the content under the rows' new digests
    assert "A000-renamed" in page.content.decode()
    assert tokens_removed(page.content.decode()) == tokens_removed(full.content.decode())


def test_the_footer_of_a_kept_page_counts_the_list_as_it_is(role_client):
    members(51)
    client = role_client("staff")
    kept_for(client, MEMBERS)

    MemberFactory(last_name="Zeller")  # on page 2: page 1's rows are unchanged
    page = client.get(MEMBERS)

    html = page.content.decode()
    assert page.templates[0].name == KEPT
    assert "52 results · page 1 of 2" in html
    assert 'href="?page=2" rel="next"' in html
    assert "Zeller" not in html


def test_a_kept_footer_shows_export_links_only_to_roles_that_may_export(role_client):
    members(2)
    for role, exports in (("staff", True), ("read_only", False), ("officer", True)):
        client = role_client(role)
        kept_for(client, MEMBERS)
        page = client.get(MEMBERS)

        assert page.templates[0].name == KEPT
        assert ("download>CSV</a>" in page.content.decode()) is exports, role


def test_a_kept_page_equals_its_full_render_after_the_count_changed(role_client):
    members(51)
    client = role_client("staff")
    kept_for(client, MEMBERS)
    MemberFactory(last_name="Zeller")  # on page 2
    kept = client.get(MEMBERS)

    views._kept_pages.clear()
    cache.clear()
    full = client.get(MEMBERS)

    assert kept.templates[0].name == KEPT
    assert full.templates[0].name != KEPT
    assert tokens_removed(kept.content.decode()) == tokens_removed(full.content.decode())


def test_the_last_page_follows_rows_added_after_it_was_kept(role_client):
    members(50)
    client = role_client("staff")
    kept_for(client, MEMBERS, data={"page": "last"})

    MemberFactory(last_name="Zeller")  # now 51 rows: "last" is page 2
    html = client.get(MEMBERS, {"page": "last"}).content.decode()

    assert "Zeller" in html
    assert "51 results · page 2 of 2" in html


def test_a_kept_page_past_the_end_is_not_found(role_client):
    rows = members(51)
    client = role_client("officer")
    kept_for(client, MEMBERS, data={"page": 2})

    rows[0].soft_delete(reason="test")

    assert client.get(MEMBERS, {"page": 2}).status_code == 404


def test_an_htmx_refresh_kept_by_content_carries_the_current_footer(role_client):
    members(2)
    client = role_client("staff")
    headers = {"HX-Request": "true"}
    kept_for(client, MEMBERS, data={"status": "active"}, headers=headers)

    MemberFactory(last_name="B", status="active")
    MemberFactory(last_name="Zeller", status="inactive")  # not in this list
    partial = client.get(MEMBERS, {"status": "active"}, headers=headers).content.decode()

    assert "<html" not in partial
    assert "B, " in partial  # a new row on the page: rendered again
    assert "3 results" in partial


def test_the_organization_list_stays_kept_while_other_contacts_are_added(role_client):
    organization = OrganizationFactory(name="Acme Electric")
    OrganizationContactFactory(organization=organization, first_name="Pat", last_name="Primary", is_primary=True)
    client = role_client("staff")
    kept_for(client, ORGANIZATIONS)

    OrganizationContactFactory(organization=organization, last_name="Secondary")
    page = client.get(ORGANIZATIONS)
    assert page.templates[0].name == KEPT
    assert "Pat Primary" in page.content.decode()

    OrganizationContactFactory(organization=OrganizationFactory(name="Bolt Co"), last_name="Newprime", is_primary=True)
    html = client.get(ORGANIZATIONS).content.decode()
    assert "Newprime" in html


@pytest.mark.django_db(transaction=True)
def test_one_snapshot_sees_no_write_committed_during_it():
    MemberFactory()
    count = "SELECT count(*) FROM members_member"

    def write_elsewhere():  # a thread has its own connection: this write commits while the snapshot is open
        MemberFactory()
        connections.close_all()

    with one_snapshot("default"), connection.cursor() as cursor:
        cursor.execute(count)
        before = cursor.fetchone()[0]
        writer = threading.Thread(target=write_elsewhere)
        writer.start()
        writer.join()
        cursor.execute(count)
        during = cursor.fetchone()[0]
    level = connection.connection.isolation_level
    with connection.cursor() as cursor:
        cursor.execute(count)
        after = cursor.fetchone()[0]

    assert (before, during, after) == (1, 1, 2)
    assert level is None  # the connection's own level is back (the server's default)
