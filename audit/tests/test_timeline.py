"""Reading history: entries across event tables, field diffs as people read them, and who sees what."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, router
from django.test.utils import CaptureQueriesContext

from attachments.factories import AttachmentFactory
from audit import timeline
from audit.history import history_context
from audit.timeline import Entry, recent_events, record_events
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberStatus
from organizations.factories import EmployerFactory, OrganizationContactFactory
from organizations.models import Organization
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortInstructorFactory,
    EnrollmentFactory,
    InstructorFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db


def user_with(role):
    user = User.objects.create_user(f"{role}-person")
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def test_recent_events_merges_tables_newest_first_with_who_and_why():
    member = MemberFactory(first_name="Ana", last_name="Ruiz")
    officer = user_with("officer")
    with history_context(source="web", user=officer, reason="dues arrears", request_id="r-1"):
        Member.objects.filter(pk=member.pk).update(status=MemberStatus.SUSPENDED)
    OrganizationContactFactory(first_name="Carl", last_name="Cole")

    entries = recent_events(user=officer, limit=3)

    # One test transaction gives every event the same time: changes count as newer than creations, and an
    # owned row's creation as newer than its parent's.
    assert [(e.record_type, e.action) for e in entries] == [
        ("member", "changed"),
        ("organization contact", "created"),
        ("organization", "created"),
    ]
    change = entries[0]
    assert isinstance(change, Entry)
    assert (change.who, change.source, change.reason, change.request_id) == (
        "officer-person",
        "web",
        "dues arrears",
        "r-1",
    )
    assert change.changes == [("Status", "Active", "Suspended")]
    assert change.url == f"/members/{member.pk}/"
    assert change.record == f"{member.member_number} — Ana Ruiz"


def test_recent_events_shows_an_instructor_no_member_events():
    MemberFactory()
    instructor_user = user_with("instructor")

    assert recent_events(user=instructor_user) == []


def test_recent_events_shows_an_instructor_only_their_own_cohorts():
    instructor_user = user_with("instructor")
    own = CohortInstructorFactory(instructor=InstructorFactory(user=instructor_user))
    mine = EnrollmentFactory(cohort=own.cohort, student=StudentFactory(first_name="Mia", last_name="Own"))
    EnrollmentFactory(student=StudentFactory(first_name="Oz", last_name="Other"))

    records = {(e.record_type, e.record) for e in recent_events(user=instructor_user, limit=50)}

    assert ("student", "Mia Own") in records
    assert ("enrollment", str(mine)) in records
    assert not any("Oz Other" in record for _type, record in records)


def test_recent_events_shows_an_instructor_no_enrollment_or_attendance_in_other_cohorts():
    instructor_user = user_with("instructor")
    own = CohortInstructorFactory(instructor=InstructorFactory(user=instructor_user))
    student = EnrollmentFactory(cohort=own.cohort).student
    elsewhere = EnrollmentFactory(student=student).cohort  # the same student in a cohort they do not teach
    AttendanceFactory(student=student, session=ClassSessionFactory(cohort=elsewhere, topic="Elsewhere"))
    here = AttendanceFactory(student=student, session=ClassSessionFactory(cohort=own.cohort, topic="Here"))

    entries = recent_events(user=instructor_user, limit=50)

    marks = [entry for entry in entries if entry.model_label == "training.attendance"]
    assert [entry.record for entry in marks] == [str(here)]
    places = [entry.record for entry in entries if entry.model_label == "training.enrollment"]
    assert places == [str(student.enrollments.get(cohort=own.cohort))]


def test_record_events_of_a_student_show_an_instructor_only_their_own_cohorts():
    instructor_user = user_with("instructor")
    own = CohortInstructorFactory(instructor=InstructorFactory(user=instructor_user))
    student = EnrollmentFactory(cohort=own.cohort).student
    elsewhere = EnrollmentFactory(student=student).cohort
    AttendanceFactory(student=student, session=ClassSessionFactory(cohort=elsewhere))

    entries, _more = record_events(student, user=instructor_user, stop=50)  # the student page's panel

    assert sorted((entry.what, entry.record) for entry in entries) == [
        ("Enrollment created", str(student.enrollments.get(cohort=own.cohort))),
        ("Student created", str(student)),
    ]


def test_recent_events_hides_a_members_linked_student_from_an_organizer():
    member = MemberFactory()
    member.student = StudentFactory(first_name="Mia", last_name="Hidden")
    member.save()

    [change, *_] = recent_events(user=user_with("organizer"))

    assert change.what == "Member changed"
    assert change.changes == []  # the student's name is not the organizer's to see (DOMAIN.md §5)


def test_recent_events_hides_soft_deleted_records_from_roles_that_may_not_restore_them():
    job = MemberEmploymentFactory(member__last_name="Gone")
    AttachmentFactory(target_obj=job.member, original_name="gone.pdf")
    job.member.soft_delete(reason="duplicate")
    MemberFactory(last_name="Here")

    read_only = {entry.record for entry in recent_events(user=user_with("read_only"), limit=50)}
    officer = {entry.record for entry in recent_events(user=user_with("officer"), limit=50)}

    assert not any("Gone" in record or "gone.pdf" in record for record in read_only)
    assert any("Here" in record for record in read_only)
    assert any("Gone" in record for record in officer)


def test_recent_events_gives_a_user_without_roles_nothing():
    MemberFactory()

    assert recent_events(user=User.objects.create_user("nobody")) == []


def test_diff_shows_related_records_by_name_and_choices_by_label():
    job = MemberEmploymentFactory(job_title="Wireman", organization=EmployerFactory(name="Bolt Co"))
    job.organization = EmployerFactory(name="Acme Electric")
    job.job_title = "Foreman"
    job.save()

    [latest, *_] = record_events(job.member)[0]

    assert latest.what == "Employment changed"
    assert latest.changes == [("Organization", "Bolt Co", "Acme Electric"), ("Job title", "Wireman", "Foreman")]
    assert latest.url == f"/members/{job.member.pk}/"


def test_each_update_is_diffed_against_the_same_records_event_before_it_however_the_records_interleave():
    first, second = MemberFactory(phone="555-0001"), MemberFactory(phone="555-1001")
    for n in (2, 3):  # first, second, first, second: each record's events interleave with the other's
        for member, base in ((first, 0), (second, 1000)):
            member.phone = f"555-{base + n:04d}"
            member.save()

    entries = [entry for entry in record_events(first)[0] if entry.what == "Member changed"]

    assert [entry.changes for entry in entries] == [
        [("Phone", "555-0002", "555-0003")],
        [("Phone", "555-0001", "555-0002")],
    ]


def test_related_rows_of_several_tables_load_by_id_in_one_query_and_a_missing_one_reads_as_deleted(
    django_assert_num_queries,
):
    job = MemberEmploymentFactory(organization=EmployerFactory(name="Bright Electric"))
    user = User.objects.create_user("named-user")
    texts = timeline.RelatedTexts()

    with django_assert_num_queries(1):
        texts._load({Organization: {job.organization_id, 987_654_321}, User: {user.pk}})

    assert texts.text(Organization, job.organization_id) == "Bright Electric"
    assert texts.text(Organization, 987_654_321) == "organization #987654321 (deleted)"
    assert texts.get(User, user.pk).username == "named-user"


# --- A record's events statement, compiled once per shape -----------------------------------------------------


def records_of_every_kind():
    job = MemberEmploymentFactory()
    AttachmentFactory(target=job)
    AttachmentFactory(target=job.member)
    contact = OrganizationContactFactory()
    enrollment = EnrollmentFactory()
    return [job.member, job.organization, contact.organization, enrollment.student, enrollment.cohort]


@pytest.mark.parametrize("role", [None, "officer", "staff", "organizer"])
def test_a_kept_record_statement_is_the_statement_compiled_for_the_record(role):
    user = user_with(role) if role else None
    records = records_of_every_kind()
    for obj in records:
        timeline.record_statement(obj, user=user, stop=10)
    kept_shapes = len(timeline._statements)
    for obj in records:
        fresh_models, fresh = timeline.events_statement(timeline.record_scopes(obj, user=user), stop=10)

        kept_models, kept = timeline.record_statement(obj, user=user, stop=10)

        assert kept_models == fresh_models
        assert (kept.sql, kept.params, kept.alias) == (fresh.sql, fresh.params, fresh.alias)
        assert obj.pk in kept.params
        assert timeline.STAND_IN_ID not in kept.params
    assert len(timeline._statements) == kept_shapes  # every statement above came from a kept shape


def test_record_events_of_two_members_show_each_its_own_history():
    first, second = MemberFactory(first_name="Ana"), MemberFactory(first_name="Bea")
    MemberEmploymentFactory(member=second, job_title="Foreman")

    first_entries, _ = record_events(first, user=user_with("staff"))
    second_entries, _ = record_events(second, user=user_with("officer"))

    assert {(entry.model_label, entry.record_id) for entry in first_entries} == {("members.member", first.pk)}
    job = second.employments.get()
    assert {(entry.model_label, entry.record_id) for entry in second_entries} == {
        ("members.member", second.pk),
        ("members.memberemployment", job.pk),
    }


def test_an_instructors_record_statement_is_compiled_for_their_cohorts_every_time():
    enrollment = EnrollmentFactory()
    instructor = InstructorFactory(user=user_with("instructor"))
    CohortInstructorFactory(cohort=enrollment.cohort, instructor=instructor)
    kept_before = len(timeline._statements)

    _models, statement = timeline.record_statement(enrollment.student, user=instructor.user, stop=10)

    assert len(timeline._statements) == kept_before
    assert timeline.STAND_IN_ID not in statement.params


def test_reading_a_records_history_inside_a_history_context_sends_only_reads():
    # pghistory prefixes statements it does not know for reads with its context (a second statement for the
    # server); the union statements start with SELECT so that it leaves them alone.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = MemberFactory()
    job = MemberEmploymentFactory(member=member)
    staff, officer = user_with("staff"), user_with("officer")
    assert officer.has_perm("members.view_member")  # the grants read once, as a request's first check does
    with history_context(source="web", user=staff):
        Member.objects.filter(pk=member.pk).update(phone="555-0100")  # an update event with an earlier one
        with CaptureQueriesContext(connection) as queries:
            entries, _more = record_events(member, user=officer, stop=10)
    assert {entry.record_id for entry in entries} == {member.pk, job.pk}
    reads = [q["sql"] for q in queries]
    assert len(reads) >= 3  # the events, the events before the update, the records they name
    assert [sql for sql in reads if "set_config" in sql] == []


def test_one_statement_over_tables_the_router_sends_apart_runs_on_the_primary(monkeypatch):
    replica_for_domain = {User: "default", Organization: "replica"}
    monkeypatch.setattr(router, "db_for_read", lambda model, **hints: replica_for_domain[model])

    assert timeline.one_alias([Organization]) == "replica"
    assert timeline.one_alias([Organization, User]) == "default"


def members_with_a_job_and_a_change(count: int) -> None:
    """``count`` members, each with a job and one change of its own: three events per member."""
    for number in range(count):
        member = MemberFactory()
        MemberEmploymentFactory(member=member)
        Member.objects.filter(pk=member.pk).update(notes=f"note {number}")


def test_a_page_of_events_builds_only_the_events_it_shows(monkeypatch):
    """Each table gives the one-statement read up to stop + 1 rows; only the page's window is built as models
    (the merge reads its keys from the rows), so the history log's first page builds 50 events, not one page
    per table. The window is the same events as a read of the whole."""
    members_with_a_job_and_a_change(3)
    scopes = timeline.visible_scopes(user_with("officer"))
    whole, _more = timeline.read_events(scopes, start=0, stop=40)
    built, build = [], timeline._event_from_row

    def counted(model, row):
        built.append(row["pgh_id"])
        return build(model, row)

    monkeypatch.setattr(timeline, "_event_from_row", counted)

    events, more = timeline.read_events(scopes, start=2, stop=6)

    assert [(event.pgh_model, event.pgh_id) for event in events] == [(e.pgh_model, e.pgh_id) for e in whole[2:6]]
    assert more is True
    assert built == [event.pgh_id for event in events]


def test_a_deep_read_pages_through_each_table_and_gives_the_events_one_statement_gives(monkeypatch):
    """Past PAGED_ABOVE events (deep pages, exports) each table is read a page at a time, as far as the merge
    takes it; the events, their order (ties included: one test transaction gives them one time) and whether
    more follow are those of the one-statement read."""
    members_with_a_job_and_a_change(4)
    OrganizationContactFactory()
    scopes = timeline.visible_scopes(user_with("officer"))
    windows = [(3, 11), (0, 40)]  # 18 events: more follow the first window, none the second
    whole = [timeline.read_events(scopes, start=start, stop=stop) for start, stop in windows]

    monkeypatch.setattr(timeline, "PAGED_ABOVE", 2)
    monkeypatch.setattr(timeline, "PAGE_ROWS", 2)
    with CaptureQueriesContext(connection) as queries:
        paged = [timeline.read_events(scopes, start=start, stop=stop) for start, stop in windows]

    def ids(read):
        events, more = read
        return [(event.pgh_model, event.pgh_id, event.pgh_action) for event in events], more

    assert [ids(read) for read in paged] == [ids(read) for read in whole]
    assert [(len(events), more) for events, more in paged] == [(8, True), (18, False)]
    assert len(queries.captured_queries) > 2 * len(scopes)  # tables read in several pages each


def test_export_events_pages_below_the_newest_ids_and_gives_the_newest_events(monkeypatch):
    """export_events(): the newest ``limit`` events, as read_events() gives them, read a page at a time below
    each table's newest event id when it was called; its count says how many and whether older ones are left."""
    members_with_a_job_and_a_change(3)
    scopes = timeline.visible_scopes(user_with("officer"))
    expected, _more = timeline.read_events(scopes, start=0, stop=7)
    monkeypatch.setattr(timeline, "PAGE_ROWS", 2)

    rows, more, events = timeline.export_events(scopes, limit=7)
    MemberFactory()  # written after the export began: not in it
    everything = timeline.export_events(scopes, limit=100)

    assert (rows, more) == (7, True)
    assert [(e.pgh_model, e.pgh_id) for e in events] == [(e.pgh_model, e.pgh_id) for e in expected]
    assert everything[:2] == (13, False)  # 12 events before, the new member's creation after
    assert len(list(everything[2])) == 13
