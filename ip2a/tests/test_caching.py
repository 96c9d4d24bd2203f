"""Data versions (ip2a.caching), the lists' kept results and counts, and the kept grants (ip2a.auth): a kept value
is served while nothing it shows has changed, and never after."""

import re

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ip2a import auth, caching, views
from ip2a.roles import user_roles
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from organizations.models import Organization
from training.factories import CohortInstructorFactory, EnrollmentFactory, InstructorFactory

pytestmark = pytest.mark.django_db

MEMBERS = reverse("members:member_list")
STUDENTS = reverse("training:student_list")


def queries_of(client, path, **extra) -> tuple:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, **extra)
    return response, [query["sql"] for query in captured.captured_queries]


# --- data versions ---------------------------------------------------------------------------------------


def test_a_late_commit_below_the_newest_event_id_still_moves_the_version():
    MemberFactory()
    table = Member.pgh_event_model._meta.db_table
    newest = Member.pgh_event_model.objects.latest("pgh_id")

    def add_event(pgh_id):
        # As a transaction that took its id earlier and commits now: an event below the newest id appears.
        values = {f.attname: getattr(newest, f.attname) for f in newest._meta.concrete_fields}
        Member.pgh_event_model.objects.create(**{**values, "pgh_id": pgh_id})

    add_event(newest.pgh_id + 10)
    before = caching.table_versions([table])[table]
    add_event(newest.pgh_id + 5)
    after = caching.table_versions([table])[table]

    assert before[0] == after[0] == newest.pgh_id + 10  # the newest id did not move…
    assert before != after  # …the version did


def test_query_versions_cover_subqueries_and_refuse_tables_without_history():
    employed = Member.objects.filter(employments__organization__name="Acme")
    versions = caching.query_versions(employed)

    assert set(versions) == {
        Member.pgh_event_model._meta.db_table,
        MemberEmployment.pgh_event_model._meta.db_table,
        Organization.pgh_event_model._meta.db_table,
    }
    assert caching.query_versions(ContentType.objects.all()) is None  # content types keep no history


# --- the lists' kept results and counts --------------------------------------------------------------------


def test_a_value_is_written_to_the_cache_only_when_its_key_is_asked_for_again():
    from django.core.cache import cache

    caching.keep("v:once", "first")
    assert cache.get("v:once") is None

    caching.keep("v:once", "second")
    assert cache.get("v:once") == "second"


def test_member_page_body_is_shared_by_users_with_the_same_grants(client, make_user):
    member = MemberFactory()
    page = reverse("members:member_detail", args=[member.pk])
    one, two, three = (make_user("staff", username=name) for name in ("one", "two", "three"))
    for user in (one, two):
        client.force_login(user)
        client.get(page)
    client.force_login(three)

    _, sql = queries_of(client, page)

    assert not any('FROM "members_memberemployment"' in query for query in sql)


def test_member_list_shown_again_reads_its_rows_only_in_the_check_statement(role_client):
    MemberEmploymentFactory.create_batch(3)
    client = role_client("staff")
    first, _ = queries_of(client, MEMBERS)
    client.get(MEMBERS)  # asked for twice: now kept

    again, sql = queries_of(client, MEMBERS)

    member_reads = [query for query in sql if 'FROM "members_member"' in query]
    assert len(member_reads) == 1  # no count, row or prefetch query
    assert "md5(string_agg(" in member_reads[0]
    table = re.search(r"<table>.*</table>", first.content.decode(), re.S).group(0)
    assert table in again.content.decode()


def test_member_list_shows_a_renamed_employer_at_once(role_client):
    job = MemberEmploymentFactory(organization__name="Old Name Electric")
    client = role_client("staff")
    assert "Old Name Electric" in client.get(MEMBERS).content.decode()

    Organization.objects.filter(pk=job.organization_id).update(name="New Name Electric")

    html = client.get(MEMBERS).content.decode()
    assert "New Name Electric" in html
    assert "Old Name Electric" not in html


def test_member_list_count_follows_new_and_deleted_members(role_client):
    MemberFactory.create_batch(2)
    client = role_client("officer")
    assert client.get(MEMBERS).context["paginator"].count == 2

    MemberFactory()
    assert client.get(MEMBERS).context["paginator"].count == 3

    Member.objects.first().soft_delete(reason="test")
    assert client.get(MEMBERS).context["paginator"].count == 2


def test_htmx_refresh_from_the_cache_is_the_rendered_partial(role_client):
    MemberFactory(last_name="Okafor")
    client = role_client("staff")
    rendered = client.get(MEMBERS, {"q": "oka"}, headers={"HX-Request": "true"})

    kept = client.get(MEMBERS, {"q": "oka"}, headers={"HX-Request": "true"})

    assert kept.status_code == rendered.status_code == 200
    assert kept.content == rendered.content
    assert b"Okafor" in kept.content
    assert b"<html" not in kept.content


def test_kept_results_are_per_role_set(role_client, client, make_user):
    MemberFactory()
    staff = role_client("staff").get(MEMBERS).content.decode()
    client.force_login(make_user("read_only", username="reader"))

    reader = client.get(MEMBERS).content.decode()

    assert "export=csv" in staff  # staff may export the list
    assert "export=csv" not in reader


def test_kept_results_follow_a_permission_taken_from_the_role(role_client):
    MemberFactory()
    client = role_client("staff")
    client.get(MEMBERS)
    assert "export=csv" in client.get(MEMBERS).content.decode()

    Group.objects.get(name="staff").permissions.remove(Permission.objects.get(codename="export_member"))

    assert "export=csv" not in client.get(MEMBERS).content.decode()


def test_option_lists_kept_in_a_worker_follow_an_emptied_cache(make_user):
    from django.core.cache import cache

    from members.forms import EmploymentForm
    from organizations.factories import EmployerFactory

    member = MemberFactory()
    EmployerFactory(name="Anode Electric")
    assert "Anode Electric" in str(EmploymentForm(member=member)["organization"])
    with connection.cursor() as cursor:  # as the seed loads: the history triggers off
        cursor.execute("SET session_replication_role = replica")
        EmployerFactory(name="Busbar Electric")
        cursor.execute("SET session_replication_role = DEFAULT")
    assert "Busbar Electric" not in str(EmploymentForm(member=member)["organization"])  # no version moved

    cache.clear()  # what seed and reset do

    assert "Busbar Electric" in str(EmploymentForm(member=member)["organization"])


def test_two_instructors_with_the_same_role_see_their_own_students(client, make_user):
    ours, theirs = EnrollmentFactory(student__last_name="Ours"), EnrollmentFactory(student__last_name="Theirs")
    for enrollment, name in ((ours, "one"), (theirs, "two")):
        user = make_user("instructor", username=name)
        CohortInstructorFactory(cohort=enrollment.cohort, instructor=InstructorFactory(user=user))

    client.force_login(User.objects.get(username="one"))
    first = client.get(STUDENTS).content.decode()
    client.force_login(User.objects.get(username="two"))
    second = client.get(STUDENTS).content.decode()

    assert "Ours" in first
    assert "Theirs" not in first
    assert "Theirs" in second
    assert "Ours" not in second


def test_student_list_filter_form_lists_a_new_cohort_at_once(role_client):
    client = role_client("staff")
    EnrollmentFactory(cohort__name="Spring Cohort")
    assert "Spring Cohort" in client.get(STUDENTS).context["filter_form_html"]

    EnrollmentFactory(cohort__name="Autumn Cohort")

    assert "Autumn Cohort" in client.get(STUDENTS).context["filter_form_html"]


@pytest.mark.parametrize(
    "query",
    ["", "?q=smi", "?q=smi&status=active", "?status=active&status=retired&sort=-number", "?employer=Acme&q=x"],
)
def test_the_filter_form_is_what_its_template_renders(role_client, query):
    from django.template.loader import render_to_string

    from members.filters import MemberFilterSet

    client = role_client("staff")
    client.get(MEMBERS + "?q=other&status=active")  # fields kept from another query must not leak into this one
    response = client.get(MEMBERS + query)

    filterset = MemberFilterSet(
        response.wsgi_request.GET, queryset=Member.objects.all(), request=response.wsgi_request
    )
    assert response.context["filter_form_html"] == render_to_string(
        "generic/filter_fields.html", {"filter": filterset}
    )


def test_a_new_search_renders_only_the_search_box_again(role_client, monkeypatch):
    from django.forms import BoundField

    client = role_client("staff")
    client.get(MEMBERS + "?q=first")
    rendered = []
    original = BoundField.as_field_group
    monkeypatch.setattr(BoundField, "as_field_group", lambda field: rendered.append(field.name) or original(field))

    response = client.get(MEMBERS + "?q=second")

    assert rendered == ["q"]
    assert 'value="second"' in response.context["filter_form_html"]


# --- kept list pages ----------------------------------------------------------------------------------------

ORGANIZATIONS = reverse("organizations:organization_list")
CONTACTS = reverse("organizations:contact_list")
COHORTS = reverse("training:cohort_list")


def tokens_removed(html: str) -> str:
    """The page without what differs on every request (CSRF token, CSP nonce)."""
    return re.sub(r'nonce="[^"]+"', "", re.sub(r"[A-Za-z0-9]{64}", "", html))


def kept_for(client, path, **extra):
    """Render a page until it is kept (the first render notes its key, the second writes it), then return the
    first render."""
    first = client.get(path, **extra)
    client.get(path, **extra)
    return first


def test_a_kept_list_page_is_the_full_page_with_this_users_header(client, make_user):
    MemberEmploymentFactory.create_batch(3)
    client.force_login(make_user("staff", username="first-clerk"))
    full = kept_for(client, MEMBERS, data={"status": "active"})
    client.force_login(make_user("staff", username="second-clerk"))

    kept, sql = queries_of(client, MEMBERS, data={"status": "active"})

    html = kept.content.decode()
    assert kept.templates[0].name == "generic/kept_page.html"
    member_reads = [query for query in sql if '"members_member"' in query]
    assert len(member_reads) == 1  # the check statement alone
    assert "md5(string_agg(" in member_reads[0]
    assert "second-clerk" in html
    assert "first-clerk" not in html
    assert tokens_removed(html) == tokens_removed(full.content.decode().replace("first-clerk", "second-clerk"))
    assert "kept-content" not in html


def test_a_kept_list_page_carries_a_working_csrf_token(client, make_user):
    MemberFactory()
    client.force_login(make_user("staff"))
    kept_for(client, MEMBERS)
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(make_user("staff", username="poster"))

    page = csrf_client.get(MEMBERS)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode()).group(1)
    response = csrf_client.post(reverse("logout"), HTTP_X_CSRFTOKEN=token)

    assert page.templates[0].name == "generic/kept_page.html"
    assert response.status_code == 302  # a refused token would be 403


@pytest.mark.parametrize("path", [MEMBERS, ORGANIZATIONS, CONTACTS, STUDENTS, COHORTS])
def test_every_kept_list_page_equals_its_full_render(role_client, path):
    EnrollmentFactory()
    MemberEmploymentFactory()
    client = role_client("officer")
    full = kept_for(client, path)

    kept = client.get(path)

    assert kept.templates[0].name == "generic/kept_page.html"
    assert tokens_removed(kept.content.decode()) == tokens_removed(full.content.decode())


def test_a_kept_list_page_shows_a_new_member_at_once(role_client):
    MemberFactory(last_name="Aalto")
    client = role_client("staff")
    kept_for(client, MEMBERS)

    MemberFactory(last_name="Zeller")

    assert "Zeller" in client.get(MEMBERS).content.decode()


def test_a_kept_list_page_after_a_write_reads_the_data_versions_once(role_client):
    cohort = EnrollmentFactory().cohort
    client = role_client("staff")
    kept_for(client, STUDENTS)
    EnrollmentFactory(cohort=cohort, student__last_name="Zeller")

    response, sql = queries_of(client, STUDENTS)

    assert "Zeller" in response.content.decode()
    assert sum("AS newest" in query for query in sql) == 1


def test_a_list_kept_by_content_checks_its_rows_after_a_write(role_client):
    MemberFactory(last_name="Aalto")
    client = role_client("staff")
    kept_for(client, MEMBERS)
    MemberFactory(last_name="Zeller")

    response, sql = queries_of(client, MEMBERS)

    assert "Zeller" in response.content.decode()
    # The kept page's versions moved and its check finds new rows; the full render, in the check's snapshot,
    # takes its count from that check, and its versions key what it kept.
    assert sum("md5(string_agg(" in query for query in sql) == 1
    assert sum("AS newest" in query for query in sql) == 2


def test_a_kept_list_page_shows_a_message_waiting_for_the_user(role_client):
    member = MemberFactory(phone="555-0100")
    client = role_client("officer")
    kept_for(client, MEMBERS)
    form = client.get(reverse("members:member_update", args=[member.pk])).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}

    saved = client.post(reverse("members:member_update", args=[member.pk]), {**data, "phone": "555-0199"})
    page = client.get(MEMBERS)  # the phone is not a list column: the page is still kept
    again = client.get(MEMBERS)

    assert saved.status_code == 302
    assert page.templates[0].name == "generic/kept_page.html"
    assert 'class="messages"' in page.content.decode()  # the save's notice, shown once
    assert 'class="messages"' not in again.content.decode()


def test_an_htmx_refresh_is_served_from_the_kept_results(role_client):
    MemberFactory(last_name="Okafor")
    client = role_client("staff")
    rendered = kept_for(client, MEMBERS, data={"q": "oka"}, headers={"HX-Request": "true"})

    kept, sql = queries_of(client, MEMBERS, data={"q": "oka"}, headers={"HX-Request": "true"})

    assert kept.content == rendered.content
    member_reads = [query for query in sql if '"members_member"' in query]
    assert len(member_reads) == 1  # the check statement alone
    assert "md5(string_agg(" in member_reads[0]


def test_instructors_never_get_a_kept_list_page(client, make_user):
    enrollment = EnrollmentFactory(student__last_name="Ours")
    user = make_user("instructor")
    CohortInstructorFactory(cohort=enrollment.cohort, instructor=InstructorFactory(user=user))
    client.force_login(user)
    kept_for(client, STUDENTS)

    page = client.get(STUDENTS)

    assert page.templates[0].name != "generic/kept_page.html"  # their list depends on their own cohorts
    assert "Ours" in page.content.decode()


@pytest.mark.parametrize("path", [MEMBERS, ORGANIZATIONS, CONTACTS, STUDENTS, COHORTS])
def test_a_list_query_is_the_same_for_every_user_of_a_role(client, make_user, path):
    """Kept pages are found by query string and role set alone (FilteredListView.page_memo_key): the list's
    SQL must not depend on who the (non-instructor) user is."""
    found = []
    for name in ("one", "two"):
        views._kept_pages.clear()  # the second user would get the first one's kept page: render it again
        cache.clear()
        client.force_login(make_user("staff", username=name))
        response = client.get(path, {"sort": "-name"} if path != MEMBERS else {"status": "active"})
        view = response.context["view"]
        # What a kept page is found by: the check statement (kept by content) or the results' key parts.
        found.append(view.content_check[:2] if view.content_checked else view.results_parts)

    assert found[0] == found[1]


# --- kept grants ---------------------------------------------------------------------------------------------


def test_grants_match_model_backend_for_every_role_and_a_superuser(make_user):
    users = [make_user(role) for role in ("admin", "officer", "staff", "organizer", "instructor", "read_only")]
    users.append(User.objects.create_superuser("root", password="x" * 12))
    someone = make_user(None, username="someone")
    someone.user_permissions.add(Permission.objects.get(codename="view_member"))
    users.append(someone)
    # Own permissions beside two roles' (overlapping), and a role shared with many other users.
    busy = make_user("organizer", username="busy")
    busy.groups.add(Group.objects.get(name="instructor"))
    own = Permission.objects.filter(codename__in=["view_member", "export_member"])
    assert own.count() == 2
    busy.user_permissions.add(*own)
    users.append(busy)
    for n in range(5):
        make_user("organizer", username=f"colleague{n}").user_permissions.add(
            Permission.objects.get(codename="delete_member")
        )

    for user in users:
        fresh = User.objects.get(pk=user.pk)
        assert set(auth.read_grants(fresh).permissions) == ModelBackend().get_all_permissions(fresh), user
        assert auth.read_grants(fresh).roles == set(fresh.groups.values_list("name", flat=True))


def test_a_role_taken_away_is_refused_on_the_next_request(client, make_user):
    user = make_user("staff")
    client.force_login(user)
    assert client.get(MEMBERS).status_code == 200

    user.groups.clear()

    assert client.get(MEMBERS).status_code == 403


def test_a_permission_taken_from_a_role_is_refused_on_the_next_request(client, make_user):
    client.force_login(make_user("staff"))
    assert client.get(MEMBERS).status_code == 200

    Group.objects.get(name="staff").permissions.remove(Permission.objects.get(codename="view_member"))

    assert client.get(MEMBERS).status_code == 403


def test_grants_are_read_once_per_user_until_the_role_tables_change(make_user):
    user = make_user("staff")
    auth.grants(User.objects.get(pk=user.pk))

    with CaptureQueriesContext(connection) as captured:
        roles = user_roles(User.objects.get(pk=user.pk))
    assert roles == ["staff"]
    assert len(captured.captured_queries) == 1  # the user row only

    user.groups.add(Group.objects.get(name="organizer"))
    assert user_roles(User.objects.get(pk=user.pk)) == ["staff", "organizer"]


def test_grants_read_by_one_worker_are_shared_with_the_others_until_the_role_tables_change(make_user):
    user = make_user("staff")
    assert auth.grants(User.objects.get(pk=user.pk)).roles == {"staff"}
    auth._grants.clear()  # another worker: nothing in its own memory

    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        assert auth.grants(fresh).roles == {"staff"}
    assert captured.captured_queries == []  # from the shared cache

    user.groups.add(Group.objects.get(name="organizer"))
    auth._grants.clear()
    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        assert auth.grants(fresh).roles == {"staff", "organizer"}
    assert len(captured.captured_queries) == 1  # the shared copy was retired with the version: read again


def test_grants_read_inside_a_write_transaction_that_rolls_back_are_kept_nowhere(make_user):
    user = make_user("staff")
    with transaction.atomic():
        user.groups.add(Group.objects.get(name="organizer"))  # bumps the version at once; never commits
        assert auth.grants(User.objects.get(pk=user.pk)).roles == {"staff", "organizer"}
        transaction.set_rollback(True)

    assert not user.groups.filter(name="organizer").exists()
    auth._grants.clear()  # another worker
    assert auth.grants(User.objects.get(pk=user.pk)).roles == {"staff"}


def test_grants_in_the_shared_cache_are_kept_per_database(make_user, monkeypatch):
    user = make_user("staff")
    auth.grants(User.objects.get(pk=user.pk))
    auth._grants.clear()
    fresh = User.objects.get(pk=user.pk)
    monkeypatch.setitem(connection.settings_dict, "NAME", "another_deployment")  # same cache, same user id

    with CaptureQueriesContext(connection) as captured:
        auth.grants(fresh)
    assert len(captured.captured_queries) == 1  # read: the other database's copy is not this one's


def test_an_inactive_user_has_no_permission(make_user):
    user = make_user("admin")
    user.is_active = False
    user.save()

    assert User.objects.get(pk=user.pk).get_all_permissions() == set()


# --- record pages' kept bodies ----------------------------------------------------------------------------------


def test_member_page_shown_again_reads_only_the_member_and_the_versions(role_client):
    job = MemberEmploymentFactory(organization__name="Voltage Partners")
    client = role_client("staff")
    page = reverse("members:member_detail", args=[job.member_id])
    first, _ = queries_of(client, page)
    client.get(page)  # asked for twice: now kept

    again, sql = queries_of(client, page)

    assert again.context["body_html"] == first.context["body_html"]
    assert "Voltage Partners" in again.content.decode()
    assert not any('FROM "members_memberemployment"' in query for query in sql)


def wireman_page(role_client) -> tuple:
    """A member's current job as a wireman at Voltage Partners, a staff client and the member's page."""
    job = MemberEmploymentFactory(organization__name="Voltage Partners", job_title="Wireman")
    return job, role_client("staff"), reverse("members:member_detail", args=[job.member_id])


def test_member_page_shows_every_change_at_once(role_client):
    job, client, page = wireman_page(role_client)
    client.get(page)

    MemberEmployment.objects.filter(pk=job.pk).update(job_title="Foreman")
    assert "Foreman" in client.get(page).content.decode()

    Organization.objects.filter(pk=job.organization_id).update(name="Ampere Works")
    assert "Ampere Works" in client.get(page).content.decode()

    Member.objects.filter(pk=job.member_id).update(first_name="Zelda")
    assert "Zelda" in client.get(page).content.decode()


def test_member_page_stays_kept_while_other_members_change(role_client):
    from attachments.factories import AttachmentFactory

    job = MemberEmploymentFactory()
    other = MemberFactory()
    client = role_client("staff")
    page = reverse("members:member_detail", args=[job.member_id])
    client.get(page)  # kept from its first view: the key is this member's own

    Member.objects.filter(pk=other.pk).update(first_name="Zelda")
    AttachmentFactory(target_obj=other)
    MemberEmploymentFactory(member=other, organization=job.organization, job_title="Foreman")
    response, sql = queries_of(client, page)

    assert "body_html" in response.context
    assert not any('FROM "members_memberemployment"' in query for query in sql)


JOB_PARTS = (  # the member page's current-job panel and jobs table
    r'<section class="panel" aria-labelledby="current-job-heading">.*?</section>',
    r'<section class="panel" id="employment-history".*?</section>',
)


def test_member_page_keeps_its_jobs_while_the_member_alone_changes(role_client):
    """An edit of the member's own fields rebuilds the body (it shows them) but not the current-job panel and the
    jobs table: they are served kept, and no job is read."""
    job, client, page = wireman_page(role_client)
    first = client.get(page).content.decode()

    Member.objects.filter(pk=job.member_id).update(first_name="Zelda")
    response, sql = queries_of(client, page)

    text = response.content.decode()
    assert "Zelda" in text
    assert not any('FROM "members_memberemployment"' in query for query in sql)
    for part in JOB_PARTS:
        kept = re.search(part, text, re.S).group()
        assert kept == re.search(part, first, re.S).group()
        assert "Voltage Partners" in kept


def test_member_page_rebuilds_its_jobs_when_a_job_or_an_employer_changes(role_client):
    job, client, page = wireman_page(role_client)
    client.get(page)
    Member.objects.filter(pk=job.member_id).update(first_name="Zelda")
    client.get(page)  # the jobs part kept under the new body

    MemberEmployment.objects.filter(pk=job.pk).update(job_title="Foreman")
    assert "Foreman" in client.get(page).content.decode()

    Organization.objects.filter(pk=job.organization_id).update(name="Ampere Works")
    text = client.get(page).content.decode()
    assert "Voltage Partners" not in text
    for part in JOB_PARTS:
        assert "Ampere Works" in re.search(part, text, re.S).group()


def test_member_page_jobs_part_follows_the_members_deletion(role_client):
    """The jobs table has an actions column only while the member is live."""
    job = MemberEmploymentFactory()
    client = role_client("officer")  # may see deleted members
    page = reverse("members:member_detail", args=[job.member_id])
    edit = reverse("members:employment_update", args=[job.pk])
    assert edit in client.get(page).content.decode()

    Member.objects.filter(pk=job.member_id).update(deleted_at=timezone.now())

    assert edit not in client.get(page).content.decode()


def job_without_history(member):
    """A job as the seed loads them: no trigger fires, so it has no history."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        job = MemberEmploymentFactory(member=member)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert not MemberEmployment.pgh_event_model.objects.filter(pgh_obj_id=job.pk).exists()
    return job


@pytest.mark.parametrize("make_job", [lambda member: MemberEmploymentFactory(member=member), job_without_history])
def test_member_page_shows_a_file_added_to_one_of_its_jobs_at_once(role_client, make_job):
    from attachments.factories import AttachmentFactory

    member = MemberFactory()
    job = make_job(member)
    client = role_client("staff")
    page = reverse("members:member_detail", args=[member.pk])
    files = reverse("attachments:attachment_files", args=["members", "memberemployment", job.pk])
    assert f'<a href="{files}" aria-label="Files of this job">0</a>' in client.get(page).content.decode()

    AttachmentFactory(target_obj=job)

    assert f'<a href="{files}" aria-label="Files of this job">1</a>' in client.get(page).content.decode()


def test_a_record_version_moves_when_an_event_commits_below_the_newest_id():
    from audit.timeline import event_model_of, record_version_scopes

    member = MemberFactory()
    event_model = event_model_of(Member)
    table = event_model._meta.db_table
    with connection.cursor() as cursor:  # an id taken by a transaction that commits later
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'pgh_id'))", [table])
        (late_id,) = cursor.fetchone()
    Member.objects.filter(pk=member.pk).update(first_name="Ada")  # a newer event, committed first

    def versions():
        scopes, streams = record_version_scopes(Member, member.pk)
        return caching.record_versions(scopes, streams=streams, using="default")

    before = versions()
    late = event_model.objects.filter(pgh_obj_id=member.pk).order_by("pgh_id").first()
    late.pk = late_id
    late.save(force_insert=True)

    after = versions()
    assert after["members.member"][0] == before["members.member"][0]  # the newest id did not move…
    assert after != before  # …the count of the record's events did


def test_member_page_views_are_access_logged_when_served_from_the_cache(role_client):
    from audit.models import AccessLog

    member = MemberFactory()
    client = role_client("staff")
    page = reverse("members:member_detail", args=[member.pk])

    client.get(page)
    client.get(page)

    assert AccessLog.objects.filter(target_id=member.pk, action="view").count() == 2


def test_member_page_body_is_per_user_and_follows_permission_changes(client, make_user):
    member = MemberFactory()
    page = reverse("members:member_detail", args=[member.pk])
    officer = make_user("officer")
    client.force_login(officer)
    assert "Delete</a>" in client.get(page).content.decode()

    Group.objects.get(name="officer").permissions.remove(Permission.objects.get(codename="delete_member"))

    assert "Delete</a>" not in client.get(page).content.decode()


# --- the per-request reads of the session and the user ------------------------------------------------------------


def test_a_deleted_session_row_signs_the_user_out_at_once(client, make_user):
    from django.contrib.sessions.models import Session

    client.force_login(make_user("staff"))
    assert client.get(MEMBERS).status_code == 200

    Session.objects.all().delete()

    response = client.get(MEMBERS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_deactivated_or_deleted_user_is_signed_out(client, make_user):
    user = make_user("staff")
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(MEMBERS).status_code == 302

    other = make_user("staff", username="other")
    client.force_login(other)
    assert client.get(MEMBERS).status_code == 200
    other.delete()
    assert client.get(MEMBERS).status_code == 302


def test_the_user_read_per_request_is_the_whole_user(make_user):
    user = make_user("officer", first_name="Ada", email="ada@example.org")

    loaded = auth.CachedPermissionBackend().get_user(user.pk)

    assert [getattr(loaded, f.attname) for f in User._meta.concrete_fields] == [
        getattr(User.objects.get(pk=user.pk), f.attname) for f in User._meta.concrete_fields
    ]
    assert loaded._state.adding is False
    assert auth.CachedPermissionBackend().get_user(user.pk + 1000) is None


# --- kept option lists ----------------------------------------------------------------------------------------------


def _normalised(html) -> str:
    import re

    return re.sub(r">\s+<", "><", str(html)).strip()


def test_kept_options_select_renders_as_django_does_and_follows_new_rows(make_user):
    from django import forms as django_forms

    from ip2a.forms import KeptOptionsSelect
    from members.forms import EmploymentForm
    from organizations.factories import EmployerFactory

    member = MemberFactory()
    EmployerFactory(name="Anode & Sons <Ltd>")
    second = EmployerFactory(name="Bus Bar Co")
    form = EmploymentForm(initial={"organization": second.pk}, member=member)
    assert isinstance(form.fields["organization"].widget, KeptOptionsSelect)
    kept = str(form["organization"])
    form.fields["organization"].widget = django_forms.Select(choices=form.fields["organization"].choices)
    plain = str(form["organization"])

    assert _normalised(kept) == _normalised(plain)
    assert f'<option value="{second.pk}" selected>Bus Bar Co</option>' in kept
    assert "Anode &amp; Sons &lt;Ltd&gt;" in kept

    EmployerFactory(name="Conduit Corp")
    assert "Conduit Corp" in str(EmploymentForm(member=member)["organization"])


def test_kept_tag_serves_a_part_while_its_key_is_unchanged_and_renders_it_without_a_key():
    from django.template import engines

    part = engines["django"].from_string('{% load portal %}{% kept key "part" %}{{ value }}{% endkept %}')

    assert [part.render({"key": key, "value": value}) for key, value in [("", 1), ("", 2)]] == ["1", "2"]
    assert [part.render({"key": key, "value": value}) for key, value in [("a", 3), ("a", 4), ("b", 5)]] == [
        "3",
        "3",
        "5",
    ]
