import datetime as dt
import re
from unittest.mock import ANY

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit import timeline
from ip2a import dashboard
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberClassification, MemberStatus
from organizations.factories import OrganizationFactory
from training.factories import (
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    StudentFactory,
)
from training.models import CohortStatus, CredentialStatus, EnrollmentStatus

pytestmark = pytest.mark.django_db

PANELS_OF = {
    "admin": {"members", "students", "cohorts", "credentials"},
    "officer": {"members", "students", "cohorts", "credentials"},
    "staff": {"members", "students", "cohorts", "credentials"},
    "organizer": {"members"},
    "instructor": {"students", "cohorts", "credentials"},
    "read_only": {"members", "students", "cohorts", "credentials"},
}


def today():
    return timezone.localdate()


def in_days(days):
    return today() + dt.timedelta(days=days)


@pytest.fixture
def membership():
    """Four live active members (two journeymen with a current job, one without, one apprentice), one
    suspended member with a job, one soft-deleted active member, and a journeyman whose last job ended."""
    MemberEmploymentFactory.create_batch(2, member__classification=MemberClassification.JOURNEYMAN)
    MemberFactory(classification=MemberClassification.JOURNEYMAN)
    MemberFactory(classification=MemberClassification.APPRENTICE_1)
    MemberEmploymentFactory(member__status=MemberStatus.SUSPENDED, member__classification=MemberClassification.FOREMAN)
    MemberFactory(deleted_at=timezone.now())
    MemberEmploymentFactory(
        member__classification=MemberClassification.JOURNEYMAN, start_date=dt.date(2020, 1, 1), end_date=in_days(-3)
    )


@pytest.fixture
def training():
    """Two cohorts in progress and a completed one; students enrolled, completed, dropped then re-enrolled, an
    applicant and a deleted one; credentials expiring soon, later, already expired, and of a deleted student."""
    mine = CohortFactory(name="Mine")
    theirs = CohortFactory(name="Theirs", code="")
    done = CohortFactory(status=CohortStatus.COMPLETED, start_date=dt.date(2025, 1, 6), end_date=dt.date(2025, 3, 28))
    ours = EnrollmentFactory(cohort=mine).student
    EnrollmentFactory(cohort=mine, status=EnrollmentStatus.IN_PROGRESS)
    EnrollmentFactory.create_batch(2, cohort=theirs)
    graduate = EnrollmentFactory(
        cohort=done,
        status=EnrollmentStatus.COMPLETED,
        enrolled_on=dt.date(2025, 1, 2),
        completed_on=dt.date(2025, 3, 28),
    ).student
    again = EnrollmentFactory(cohort=done, status=EnrollmentStatus.DROPPED, enrolled_on=dt.date(2025, 1, 2)).student
    EnrollmentFactory(cohort=theirs, student=again)
    StudentFactory()  # an applicant
    StudentFactory(deleted_at=timezone.now())
    gone = EnrollmentFactory(cohort=mine).student
    gone.soft_delete(reason="test")

    CredentialFactory(student=ours, issue_date=in_days(-300), expiration_date=in_days(10))
    CredentialFactory(student=graduate, issue_date=in_days(-300), expiration_date=in_days(30))
    CredentialFactory(student=graduate, issue_date=in_days(-300), expiration_date=in_days(31))
    CredentialFactory(student=graduate, issue_date=in_days(-300), expiration_date=in_days(-1))
    CredentialFactory(
        student=graduate, issue_date=in_days(-300), expiration_date=in_days(5), status=CredentialStatus.REVOKED
    )
    CredentialFactory(student=gone, issue_date=in_days(-300), expiration_date=in_days(5))
    return {"mine": mine, "theirs": theirs, "ours": ours}


def instructor_of(make_user, cohort, username="teacher"):
    user = make_user("instructor", username=username)
    CohortInstructorFactory(cohort=cohort, instructor=InstructorFactory(user=user))
    return user


def stat(html, name):
    """The text of the number shown as data-stat=name (inside its link, if any)."""
    match = re.search(rf'data-stat="{name}">(?:<a href="[^"]*">)?([^<]*)<', html)
    return match.group(1)


# --- Numbers and links -------------------------------------------------------------------------------------


def test_dashboard_members_panel_counts_active_members_by_classification(role_client, membership):
    response = role_client("staff").get("/")

    panel = response.context["panels"]["members"]
    by_class = {row["value_name"]: row["value"] for row in panel["rows"]}
    assert by_class == {
        "apprentice_1": 1,
        "apprentice_2": 0,
        "apprentice_3": 0,
        "apprentice_4": 0,
        "apprentice_5": 0,
        "journeyman": 4,
        "foreman": 0,
        "retiree": 0,
        "honorary": 0,
    }
    assert (panel["active"], panel["employed"], panel["rate"]) == (5, 2, 40.0)
    html = response.content.decode()
    assert stat(html, "active-members") == "5"
    assert stat(html, "employment-rate") == "40.0%"
    assert "2 of 5 active members have a current job" in html


def test_dashboard_member_numbers_link_to_the_filtered_member_list(role_client, membership):
    html = role_client("officer").get("/").content.decode()

    members = reverse("members:member_list")
    assert f'<a href="{members}?status=active">5</a>' in html  # active members
    assert f'<a href="{members}?status=active">40.0%</a>' in html  # the rate is taken over the active list
    assert f'<a href="{members}?status=active&amp;classification=journeyman" aria-label="Journeyman: 4"' in html
    assert f'<a href="{members}?status=active&amp;classification=honorary" aria-label="Honorary: 0"' in html


def test_dashboard_member_links_count_what_the_list_shows(role_client, membership):
    client = role_client("staff")

    listed = client.get(reverse("members:member_list"), {"status": "active", "classification": "journeyman"})

    assert len(listed.context["object_list"]) == 4


def test_dashboard_students_panel_counts_students_by_enrollment_status(role_client, training):
    response = role_client("staff").get("/")

    panel = response.context["panels"]["students"]
    assert {row["value_name"]: row["value"] for row in panel["rows"]} == {
        "enrolled": 4,
        "in_progress": 1,
        "completed": 1,
        "dropped": 1,
        "withdrawn": 0,
        "deferred": 0,
        "applicant": 1,
    }
    assert panel["total"] == 7
    html = response.content.decode()
    students = reverse("training:student_list")
    assert stat(html, "students") == "7"
    assert f'<a href="{students}?enrollment_status=applicant" aria-label="Applicant (no enrollment): 1"' in html
    assert f'<a href="{students}?enrollment_status=in_progress" aria-label="In progress: 1"' in html


@pytest.mark.parametrize(("status", "expected"), [("enrolled", 4), ("dropped", 1), ("applicant", 1)])
def test_dashboard_student_numbers_match_the_list_behind_them(role_client, training, status, expected):
    client = role_client("staff")
    numbers = {row["value_name"]: row["value"] for row in client.get("/").context["panels"]["students"]["rows"]}

    listed = client.get(reverse("training:student_list"), {"enrollment_status": status})

    assert numbers[status] == len(listed.context["object_list"]) == expected


def test_dashboard_cohorts_panel_lists_the_cohorts_in_progress(role_client, training):
    response = role_client("read_only").get("/")

    panel = response.context["panels"]["cohorts"]
    assert (panel["count"], panel["students"]) == (2, 5)
    assert [(c["name"], c["students"], c["max_students"]) for c in panel["cohorts"]] == [
        ("Mine", 2, 20),
        ("Theirs", 3, 20),
    ]
    html = response.content.decode()
    assert f'<a href="{reverse("training:cohort_list")}?status=active">2</a>' in html
    assert f'<a href="{training["mine"].get_absolute_url()}">Mine</a>' in html


def test_dashboard_credentials_panel_counts_active_credentials_expiring_within_30_days(role_client, training):
    response = role_client("staff").get("/")

    assert response.context["panels"]["credentials"]["count"] == 2
    expiring = reverse("training:credential_expiring")
    assert f'<a href="{expiring}?days=30">2</a>' in response.content.decode()


def test_dashboard_credential_number_matches_the_expiring_list(role_client, training):
    client = role_client("staff")
    count = client.get("/").context["panels"]["credentials"]["count"]

    listed = client.get(reverse("training:credential_expiring"), {"days": 30})

    assert count == len(listed.context["object_list"]) == 2


def test_dashboard_charts_are_inline_svg_without_inline_styles_or_scripts(role_client, membership, training):
    html = role_client("staff").get("/").content.decode()

    assert html.count('<svg class="bar-chart"') == 2
    assert 'aria-label="Active members by classification"' in html
    assert 'aria-label="Students by enrollment status"' in html
    assert re.search(r'<rect class="bar" x="190" y="140" width="330\.0" height="18">', html)  # journeyman: the top
    assert "style=" not in html
    assert "<script>" not in html


# --- Who sees which panel ----------------------------------------------------------------------------------


def test_dashboard_shows_each_role_only_the_panels_of_lists_it_may_open(role_client, any_role, membership, training):
    response = role_client(any_role).get("/")

    assert response.status_code == 200
    assert set(response.context["panels"]) == PANELS_OF[any_role]
    html = response.content.decode()
    for panel in ("members", "students", "cohorts", "credentials"):
        assert (f'data-panel="{panel}"' in html) == (panel in PANELS_OF[any_role])


def test_dashboard_never_shows_an_instructor_member_numbers(client, make_user, membership, training):
    client.force_login(instructor_of(make_user, training["mine"]))

    html = client.get("/").content.decode()

    assert 'data-panel="members"' not in html
    assert "Active members" not in html
    assert reverse("members:member_list") not in html
    assert "employment rate" not in html


def test_dashboard_shows_an_instructor_only_the_numbers_of_their_own_cohorts(client, make_user, training):
    client.force_login(instructor_of(make_user, training["mine"]))

    response = client.get("/")

    panels = response.context["panels"]
    assert response.context["limited_to_own_cohorts"] is True
    assert panels["students"]["total"] == 2
    assert {row["value_name"]: row["value"] for row in panels["students"]["rows"]}["enrolled"] == 1
    assert (panels["cohorts"]["count"], [c["name"] for c in panels["cohorts"]["cohorts"]]) == (1, ["Mine"])
    assert panels["credentials"]["count"] == 1
    assert "Training numbers are of your own cohorts." in response.content.decode()


def test_dashboard_without_a_role_shows_no_panel(client, make_user, membership):
    client.force_login(make_user(None))

    response = client.get("/")

    assert response.status_code == 200
    assert response.context["panels"] == {}
    assert "data-panel=" not in response.content.decode()


# --- Cache: per role, per instructor, and invalidated by writes --------------------------------------------


def test_dashboard_caches_numbers_per_role_set(client, make_user, training):
    staff = make_user("staff", username="s")
    client.force_login(staff)
    client.get("/")
    client.force_login(instructor_of(make_user, training["mine"]))

    panels = client.get("/").context["panels"]

    assert panels["cohorts"]["count"] == 1  # never the staff's 2 from the cache
    keys = {dashboard.cache_key(dashboard.PANELS[name][0], staff, {}) for name in ("members", "cohorts")}
    assert all(":staff:" in key for key in keys)


def test_dashboard_cache_keys_differ_between_databases(make_user):
    # Two deployments (or test databases) sharing one cache have the same roles and may have the same versions.
    staff = make_user("staff")
    panel = dashboard.PANELS["members"][0]
    here = dashboard.cache_key(panel, staff, {})

    connection.settings_dict["NAME"], name = "another_database", connection.settings_dict["NAME"]
    try:
        there = dashboard.cache_key(panel, staff, {})
    finally:
        connection.settings_dict["NAME"] = name

    assert here != there


def test_dashboard_keeps_each_instructors_numbers_apart(client, make_user, training):
    client.force_login(instructor_of(make_user, training["mine"], username="one"))
    assert client.get("/").context["panels"]["cohorts"]["count"] == 1
    client.force_login(make_user("instructor", username="two"))  # no cohorts of their own

    panels = client.get("/").context["panels"]

    assert (panels["cohorts"]["count"], panels["students"]["total"], panels["credentials"]["count"]) == (0, 0, 0)


def test_dashboard_numbers_change_on_the_next_request_after_a_write(role_client, membership):
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["active"] == 5

    MemberFactory(classification=MemberClassification.FOREMAN)

    panel = client.get("/").context["panels"]["members"]
    assert panel["active"] == 6
    assert {row["value_name"]: row["value"] for row in panel["rows"]}["foreman"] == 1


def test_dashboard_numbers_change_after_a_raw_sql_write(role_client, membership):
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["employed"] == 2

    with connection.cursor() as cursor:
        cursor.execute("UPDATE members_memberemployment SET end_date = start_date, is_current = false")

    assert client.get("/").context["panels"]["members"]["employed"] == 0


def test_dashboard_instructor_numbers_change_when_their_assignment_changes(client, make_user, training):
    user = instructor_of(make_user, training["mine"])
    client.force_login(user)
    assert client.get("/").context["panels"]["cohorts"]["count"] == 1

    CohortInstructorFactory(cohort=training["theirs"], instructor=user.instructor, is_primary=False)

    assert client.get("/").context["panels"]["cohorts"]["count"] == 2


def test_dashboard_cohort_numbers_change_when_a_student_is_deleted(role_client, training):
    client = role_client("staff")
    assert client.get("/").context["panels"]["cohorts"]["students"] == 5

    training["ours"].soft_delete(reason="left the program")

    assert client.get("/").context["panels"]["cohorts"]["students"] == 4


def test_dashboard_serves_unchanged_numbers_from_the_cache(role_client, membership, monkeypatch):
    client = role_client("staff")
    assert client.get("/").context["panels"]["members"]["active"] == 5
    versions = dashboard.domain_versions  # the page's one versions statement
    frozen = {table: version for table, version in dashboard.data_versions([Member]).items()}
    Member.objects.filter(status=MemberStatus.ACTIVE).update(status=MemberStatus.SUSPENDED)
    # As if the triggers had not seen the change (a seed): the versions stay where they were.
    monkeypatch.setattr(dashboard, "domain_versions", lambda: {**versions(), **frozen})

    assert client.get("/").context["panels"]["members"]["active"] == 5
    cache.clear()  # what seed and reset must do
    assert client.get("/").context["panels"]["members"]["active"] == 0


def test_data_versions_moves_with_each_history_event():
    before = dashboard.data_versions([Member])

    MemberFactory()

    after = dashboard.data_versions([Member])
    newest = Member.pgh_event_model.objects.latest("pgh_id").pgh_id
    assert before["members_memberevent"][0] < after["members_memberevent"][0] == newest


# --- Query budgets ---------------------------------------------------------------------------------------


@pytest.fixture
def without_recent_activity(monkeypatch):
    """Budgets of the panels alone: the recent-activity list has its own (audit/tests/test_timeline.py)."""
    monkeypatch.setattr(dashboard, "recent_activity", lambda user, versions: None)


@pytest.mark.usefixtures("without_recent_activity")
def test_dashboard_runs_a_fixed_number_of_queries_cold_and_warm(role_client, django_assert_max_num_queries):
    for classification in MemberClassification.values:
        MemberEmploymentFactory.create_batch(3, member__classification=classification)
    for _ in range(3):
        cohort = CohortFactory()
        for enrollment in EnrollmentFactory.create_batch(4, cohort=cohort):
            CredentialFactory(student=enrollment.student, issue_date=in_days(-30), expiration_date=in_days(12))
    client = role_client("staff")
    client.get("/healthz")

    # session, user, groups, user permissions, group permissions, data versions, four panels
    with django_assert_max_num_queries(10):
        cold = client.get("/")
    # the same without the four panels
    with django_assert_max_num_queries(6):
        warm = client.get("/")

    assert cold.context["panels"]["members"]["active"] == warm.context["panels"]["members"]["active"] == 27
    assert warm.context["panels"]["credentials"]["count"] == 12


@pytest.mark.usefixtures("without_recent_activity")
def test_dashboard_instructor_queries_stay_within_the_same_budget(
    client, make_user, training, django_assert_max_num_queries
):
    client.force_login(instructor_of(make_user, training["mine"]))
    client.get("/healthz")

    with django_assert_max_num_queries(9):  # no members panel
        client.get("/")
    with django_assert_max_num_queries(6):
        response = client.get("/")

    assert response.context["panels"]["cohorts"]["count"] == 1


# --- Recent activity ---------------------------------------------------------------------------------------


def activity_panel(response) -> str:
    """The recent-activity panel of a dashboard page, as HTML."""
    found = re.search(r'<section class="panel recent-activity".*?</section>', response.content.decode(), re.S)
    assert found, "no recent-activity panel"
    return found.group(0)


def test_dashboard_shows_recent_activity_and_a_new_event_at_once(client, make_user, membership):
    client.force_login(make_user("staff", username="s"))
    first = activity_panel(client.get("/"))
    MemberFactory(last_name="Newcomer")

    second = activity_panel(client.get("/"))

    assert "Recent activity" in first
    assert first.count("<time ") == 10
    # (a test runs in one transaction: every event has the same time, so the order among them is not fixed)
    assert "Newcomer" not in first
    assert "Newcomer" in second


def test_dashboard_recent_activity_is_kept_until_something_is_written(client, make_user, membership, monkeypatch):
    calls = []
    read = timeline.recent_events
    monkeypatch.setattr(timeline, "recent_events", lambda **kwargs: calls.append(kwargs) or read(**kwargs))
    client.force_login(make_user("staff", username="s"))

    first = activity_panel(client.get("/"))
    again = activity_panel(client.get("/"))
    assert calls == [{"user": ANY, "limit": 10}]  # the second view was served from the shared cache
    assert again == first

    client.force_login(make_user("staff", username="t"))  # the same grants: the same panel
    assert activity_panel(client.get("/")) == first
    assert len(calls) == 1

    OrganizationFactory(name="Brand New Contractors")
    assert "Brand New Contractors" in activity_panel(client.get("/"))
    assert len(calls) == 2


def test_dashboard_recent_activity_hides_member_events_from_an_instructor(client, make_user, membership, training):
    staff, instructor = make_user("staff"), instructor_of(make_user, training["mine"])  # nothing written after
    client.force_login(staff)
    staff_panel = activity_panel(client.get("/"))  # kept for staff first: never served to the instructor

    client.force_login(instructor)
    panel = activity_panel(client.get("/"))

    assert panel != staff_panel
    assert panel.count("<time ") > 0
    assert "/members/" not in panel
    assert "/organizations/" not in panel


def test_dashboard_recent_activity_of_an_instructor_is_their_own(client, make_user, training):
    one = instructor_of(make_user, training["mine"], username="one")
    two = instructor_of(make_user, training["theirs"], username="two")  # nothing written after: the same versions
    client.force_login(one)
    mine = activity_panel(client.get("/"))
    client.force_login(two)
    theirs = activity_panel(client.get("/"))

    assert "Mine" in mine
    assert "Mine" not in theirs


def test_dashboard_recent_activity_kept_for_one_role_is_not_served_to_another(client, make_user, training):
    staff, organizer = make_user("staff"), make_user("organizer")  # nothing written after: the same versions
    client.force_login(staff)
    staff_panel = activity_panel(client.get("/"))
    client.force_login(organizer)
    organizer_panel = activity_panel(client.get("/"))

    assert "/training/students/" in staff_panel
    assert "/training/students/" not in organizer_panel  # organizers may not view students
