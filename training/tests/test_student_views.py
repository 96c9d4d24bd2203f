import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from attachments.factories import AttachmentFactory
from audit.models import AccessLog
from members.factories import MemberFactory
from members.models import Member
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
    StudentFactory,
)
from training.models import (
    ApplicationStatus,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    JATCApplication,
    Student,
)

pytestmark = pytest.mark.django_db

VIEWERS = {"admin", "officer", "staff", "instructor", "read_only"}
EDITORS = {"admin", "staff"}
RECORDERS = {"admin", "staff", "instructor"}
EXPORTERS = {"admin", "officer", "staff"}
CONVERTERS = {"admin", "officer", "staff"}


def today():
    return timezone.localdate()


@pytest.fixture
def enrollment():
    """An enrolled student of an active cohort, with a credential and a draft JATC application."""
    enrollment = EnrollmentFactory(student__first_name="Ana", student__last_name="Ruiz")
    CredentialFactory(student=enrollment.student)
    JATCApplicationFactory(student=enrollment.student)
    return enrollment


@pytest.fixture
def login(client, make_user, enrollment):
    """Log in a fresh user with the role; an instructor teaches the enrollment's cohort."""

    def log_in(role):
        user = make_user(role)
        if role == "instructor":
            CohortInstructorFactory(cohort=enrollment.cohort, instructor=InstructorFactory(user=user))
        client.force_login(user)
        return client

    return log_in


def student_url(name, student):
    return reverse(f"training:{name}", args=[student.pk])


def row_url(name, row):
    return reverse(f"training:{name}", args=[row.pk])


PAGES = {
    "student_list": (lambda e: reverse("training:student_list"), VIEWERS),
    "student_export": (lambda e: reverse("training:student_list") + "?export=csv", EXPORTERS),
    "student_detail": (lambda e: student_url("student_detail", e.student), VIEWERS),
    "student_create": (lambda e: reverse("training:student_create"), EDITORS),
    "student_update": (lambda e: student_url("student_update", e.student), EDITORS),
    "student_delete": (lambda e: student_url("student_delete", e.student), EDITORS),
    "student_restore": (
        lambda e: student_url("student_restore", StudentFactory(deleted_at=timezone.now())),
        EDITORS,
    ),
    "student_convert": (lambda e: student_url("student_convert", e.student), CONVERTERS),
    "enrollment_create": (lambda e: student_url("enrollment_create", e.student), EDITORS),
    "enrollment_update": (lambda e: row_url("enrollment_update", e), EDITORS),
    "enrollment_start": (lambda e: row_url("enrollment_start", e), EDITORS),
    "enrollment_complete": (lambda e: row_url("enrollment_complete", e), EDITORS),
    "enrollment_drop": (lambda e: row_url("enrollment_drop", e), EDITORS),
    "enrollment_withdraw": (lambda e: row_url("enrollment_withdraw", e), EDITORS),
    "enrollment_defer": (lambda e: row_url("enrollment_defer", e), EDITORS),
    "enrollment_delete": (lambda e: row_url("enrollment_delete", e), EDITORS),
    "credential_create": (lambda e: student_url("credential_create", e.student), RECORDERS),
    "credential_update": (lambda e: row_url("credential_update", e.student.credentials.get()), RECORDERS),
    "credential_renew": (lambda e: row_url("credential_renew", e.student.credentials.get()), RECORDERS),
    "credential_delete": (lambda e: row_url("credential_delete", e.student.credentials.get()), EDITORS),
    "credential_expiring": (lambda e: reverse("training:credential_expiring"), VIEWERS),
    "credential_export": (lambda e: reverse("training:credential_expiring") + "?export=csv", EXPORTERS),
    "jatcapplication_list": (lambda e: reverse("training:jatcapplication_list"), VIEWERS),
    "jatcapplication_export": (lambda e: reverse("training:jatcapplication_list") + "?export=xlsx", EXPORTERS),
    "jatcapplication_create": (lambda e: student_url("jatcapplication_create", e.student), EDITORS),
    "jatcapplication_update": (
        lambda e: row_url("jatcapplication_update", e.student.jatc_applications.get()),
        EDITORS,
    ),
    "jatcapplication_advance": (
        lambda e: row_url("jatcapplication_advance", e.student.jatc_applications.get()),
        EDITORS,
    ),
    "jatcapplication_delete": (
        lambda e: row_url("jatcapplication_delete", e.student.jatc_applications.get()),
        EDITORS,
    ),
}


# --- Who may open what ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_student_pages_answer_each_role_as_its_permissions_say(login, any_role, enrollment, page):
    url, allowed = PAGES[page]

    response = login(any_role).get(url(enrollment))

    assert response.status_code == (200 if any_role in allowed else 403)


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("officer", "student_update"),
        ("read_only", "student_delete"),
        ("instructor", "enrollment_drop"),
        ("officer", "credential_create"),
        ("instructor", "credential_delete"),
        ("read_only", "jatcapplication_advance"),
    ],
)
def test_student_writes_are_refused_without_the_permission(login, enrollment, role, page):
    url, _ = PAGES[page]
    data = {"first_name": "Changed", "reason": "test", "name": "Forklift", "issue_date": "2026-01-05",
            "status": "submitted"}  # fmt: skip

    response = login(role).post(url(enrollment), data)

    enrollment.refresh_from_db()
    assert response.status_code == 403
    assert enrollment.student.first_name == "Ana"
    assert enrollment.status == EnrollmentStatus.ENROLLED
    assert Credential.objects.count() == 1
    assert JATCApplication.objects.get().status == ApplicationStatus.DRAFT


# --- Instructors: their own cohorts' students only ----------------------------------------------------------


@pytest.fixture
def outsider():
    """A student of another cohort, with a credential."""
    other = EnrollmentFactory(student__last_name="Outside")
    CredentialFactory(student=other.student)
    JATCApplicationFactory(student=other.student)
    return other.student


@pytest.mark.parametrize("page", ["student_detail", "credential_create", "credential_update", "credential_renew"])
def test_instructors_get_404_for_students_outside_their_cohorts(login, outsider, page):
    urls = {
        "student_detail": student_url("student_detail", outsider),
        "credential_create": student_url("credential_create", outsider),
        "credential_update": row_url("credential_update", outsider.credentials.get()),
        "credential_renew": row_url("credential_renew", outsider.credentials.get()),
    }

    response = login("instructor").get(urls[page])

    assert response.status_code == 404


def test_instructors_cannot_record_credentials_for_students_outside_their_cohorts(login, outsider):
    response = login("instructor").post(
        student_url("credential_create", outsider),
        {"name": "Forklift", "issue_date": "2026-01-05", "status": "active"},
    )

    assert response.status_code == 404
    assert outsider.credentials.count() == 1


def test_instructors_record_credentials_for_their_own_students(login, enrollment):
    response = login("instructor").post(
        student_url("credential_create", enrollment.student),
        {"name": "Forklift", "issue_date": "2026-01-05", "expiration_date": "2029-01-05", "status": "active"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/training/students/{enrollment.student.pk}/"
    assert enrollment.student.credentials.filter(name="Forklift").count() == 1


def test_instructors_list_only_their_own_students_credentials_and_applications(login, enrollment, outsider):
    client = login("instructor")
    Credential.objects.update(expiration_date=today() + dt.timedelta(days=10))

    students = client.get(reverse("training:student_list")).context["object_list"]
    credentials = client.get(reverse("training:credential_expiring")).context["object_list"]
    applications = client.get(reverse("training:jatcapplication_list")).context["object_list"]

    assert list(students) == [enrollment.student]
    assert [c.student for c in credentials] == [enrollment.student]
    assert [a.student for a in applications] == [enrollment.student]


def test_instructors_see_no_edit_buttons_but_may_add_credentials(login, enrollment):
    content = login("instructor").get(student_url("student_detail", enrollment.student)).content.decode()

    assert student_url("credential_create", enrollment.student) in content
    assert student_url("student_update", enrollment.student) not in content
    assert student_url("enrollment_create", enrollment.student) not in content
    assert row_url("enrollment_drop", enrollment) not in content
    assert row_url("credential_delete", enrollment.student.credentials.get()) not in content


def test_instructors_see_a_shared_students_enrollments_and_attendance_in_their_own_cohorts_only(login, enrollment):
    session = ClassSessionFactory(cohort=enrollment.cohort)
    AttendanceFactory(session=session, student=enrollment.student, status="present")
    elsewhere = EnrollmentFactory(
        student=enrollment.student,
        cohort=CohortFactory(name="Elsewhere", start_date=dt.date(2027, 1, 4), end_date=dt.date(2027, 3, 26)),
        enrolled_on=dt.date(2026, 12, 1),
    )
    AttendanceFactory(
        session=ClassSessionFactory(cohort=elsewhere.cohort), student=enrollment.student, status="absent"
    )
    client = login("instructor")

    detail = client.get(student_url("student_detail", enrollment.student))
    listed = client.get(reverse("training:student_list")).context["object_list"]

    assert [e.pk for e in detail.context["enrollments"]] == [enrollment.pk]
    program_and_enrollments = detail.content.decode().split('id="program-heading"')[1].split('id="credentials"')[0]
    assert "Elsewhere" not in program_and_enrollments
    assert detail.context["attendance_rate"] == 1.0
    assert [s.current_cohort for s in listed] == [enrollment.cohort]


# --- Student list -----------------------------------------------------------------------------------------


def test_student_list_runs_a_fixed_number_of_queries(login, django_assert_max_num_queries):
    cohort = CohortFactory(max_students=None)
    EnrollmentFactory.create_batch(30, cohort=cohort)
    StudentFactory.create_batch(5)
    client = login("read_only")
    client.get(reverse("training:student_list"))  # warm-up: the session renewal write happens once a minute

    # session, user, user and group permissions, the user's roles (scope) twice (list, cohort choices), the
    # chosen cohort, count probe, count, page, enrollments with cohorts, the cohort choices of the filter form
    with django_assert_max_num_queries(12):
        response = client.get(reverse("training:student_list"), {"cohort": cohort.pk, "enrollment_status": "enrolled"})

    assert len(response.context["object_list"]) == 30
    assert {student.current_cohort for student in response.context["object_list"]} == {cohort}


def test_student_list_shows_the_columns(login, enrollment):
    response = login("read_only").get(reverse("training:student_list"))

    content = response.content.decode()
    student = enrollment.student
    assert f'<a href="/training/students/{student.pk}/">Ruiz, Ana</a>' in content
    assert f"<td>{student.email}</td>" in content
    assert f"<td>{enrollment.cohort}</td>" in content
    assert "<td>Enrolled</td>" in content


def test_student_list_program_status_is_the_latest_enrollment_or_applicant(login):
    dropped = EnrollmentFactory(status=EnrollmentStatus.DROPPED, enrolled_on=dt.date(2026, 1, 1))
    EnrollmentFactory(student=dropped.student, status=EnrollmentStatus.DEFERRED, enrolled_on=dt.date(2026, 3, 1))
    applicant = StudentFactory()

    rows = login("read_only").get(reverse("training:student_list")).context["object_list"]

    status = {student.pk: (student.program_status_label, student.current_cohort) for student in rows}
    assert status[dropped.student.pk] == ("Deferred", None)
    assert status[applicant.pk] == ("Applicant", None)


def test_student_list_search_finds_name_prefix_email_and_phone(login):
    maya = StudentFactory(first_name="Maya", last_name="Okafor", email="maya@example.org", phone="206-555-0100")
    StudentFactory(first_name="Bo", last_name="Lee", email="bo@example.org", phone="425-555-0100")
    client = login("read_only")

    for query in ("oka", "Maya Okafor", "Okafor, Maya", "MAYA@example.org", "206-555"):
        assert list(client.get(reverse("training:student_list"), {"q": query}).context["object_list"]) == [maya]


def test_student_list_filters_by_enrollment_status_and_applicant(login):
    completed = EnrollmentFactory(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20)).student
    EnrollmentFactory(status=EnrollmentStatus.DROPPED)
    applicant = StudentFactory()
    client = login("read_only")

    response = client.get(reverse("training:student_list"), {"enrollment_status": ["completed", "applicant"]})

    assert set(response.context["object_list"]) == {completed, applicant}


def test_student_list_filters_by_veteran(login):
    veteran = StudentFactory(is_veteran=True)
    StudentFactory()

    response = login("read_only").get(reverse("training:student_list"), {"veteran": "true"})

    assert list(response.context["object_list"]) == [veteran]
    assert '<option value="true" selected>Yes</option>' in response.content.decode()


def test_student_list_veteran_filter_offers_any_yes_no(login):
    html = login("read_only").get(reverse("training:student_list")).content.decode()

    assert '<option value="" selected>Any</option>' in html
    assert "Unknown" not in html


def test_student_list_rejects_malformed_filters(login):
    response = login("read_only").get(reverse("training:student_list"), {"enrollment_status": "gone"})

    assert response.status_code == 400


def test_student_list_answers_htmx_with_the_table_only(login, enrollment):
    response = login("read_only").get(reverse("training:student_list"), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert "<table>" in content
    assert "<form" not in content


def test_student_list_lets_those_who_may_restore_find_deleted_students(login):
    StudentFactory()
    gone = StudentFactory(deleted_at=timezone.now())

    staff = login("staff").get(reverse("training:student_list"), {"deleted": "only"})

    assert list(staff.context["object_list"]) == [gone]


def test_student_list_hides_deleted_students_from_read_only(login, enrollment):
    StudentFactory(deleted_at=timezone.now())

    response = login("read_only").get(reverse("training:student_list"), {"deleted": "only"})

    assert list(response.context["object_list"]) == [enrollment.student]


def test_student_list_shows_add_and_export_only_to_those_allowed(login):
    staff_page = login("staff").get(reverse("training:student_list")).content.decode()
    read_only_page = login("read_only").get(reverse("training:student_list")).content.decode()

    assert reverse("training:student_create") in staff_page
    assert "export=csv" in staff_page
    assert reverse("training:student_create") not in read_only_page
    assert "export=csv" not in read_only_page


def test_student_export_holds_the_filtered_rows_and_is_access_logged(login):
    StudentFactory.create_batch(3, is_veteran=True)
    StudentFactory()

    response = login("staff").get(reverse("training:student_list"), {"veteran": "true", "export": "csv"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Disposition"] == 'attachment; filename="student-list.csv"'
    assert len(rows) == 3
    log = AccessLog.objects.get()
    assert (log.action, log.row_count) == ("export", 3)


# --- Student detail ---------------------------------------------------------------------------------------


def test_student_detail_is_written_to_the_access_log(login, enrollment):
    login("read_only").get(student_url("student_detail", enrollment.student))

    log = AccessLog.objects.get()
    assert (log.action, log.target_id, log.username) == ("view", enrollment.student.pk, "read_only-user")


def test_student_detail_runs_a_fixed_number_of_queries(login, enrollment, django_assert_max_num_queries):
    for n in range(10):
        EnrollmentFactory(student=enrollment.student, status=EnrollmentStatus.DROPPED, cohort__code=f"X-{n}")
        CredentialFactory(student=enrollment.student)
        JATCApplicationFactory(student=enrollment.student)
    client = login("staff")
    url = student_url("student_detail", enrollment.student)
    client.get(url)

    # session, user, permissions (2), student, enrollments with cohorts, credentials, applications, member link,
    # attendance rate, history context, access log; the user's roles (scope, admin check, attachments panel: 6
    # when this was written) and the attachments panel's rows
    with django_assert_max_num_queries(18):
        response = client.get(url)

    assert len(response.context["enrollments"]) == 11
    assert len(response.context["credentials"]) == 11


def test_student_detail_shows_enrollments_with_their_allowed_transitions(login, enrollment):
    content = login("staff").get(student_url("student_detail", enrollment.student)).content.decode()

    for verb in ("start", "drop", "withdraw", "defer"):
        assert row_url(f"enrollment_{verb}", enrollment) in content
    assert row_url("enrollment_complete", enrollment) not in content


def test_student_detail_offers_admins_status_corrections(login, enrollment):
    Enrollment.objects.update(status=EnrollmentStatus.DROPPED)

    staff_page = login("staff").get(student_url("student_detail", enrollment.student)).content.decode()
    admin_page = login("admin").get(student_url("student_detail", enrollment.student)).content.decode()

    assert row_url("enrollment_start", enrollment) not in staff_page
    assert row_url("enrollment_start", enrollment) in admin_page


def test_student_detail_flags_expired_and_expiring_credentials(login, enrollment):
    Credential.objects.all().delete()
    CredentialFactory(student=enrollment.student, name="Old", issue_date=dt.date(2020, 1, 1),
                      expiration_date=today() - dt.timedelta(days=1))  # fmt: skip
    CredentialFactory(student=enrollment.student, name="Soon", issue_date=dt.date(2020, 1, 1),
                      expiration_date=today() + dt.timedelta(days=20))  # fmt: skip
    CredentialFactory(student=enrollment.student, name="Later", issue_date=dt.date(2020, 1, 1),
                      expiration_date=today() + dt.timedelta(days=200))  # fmt: skip

    response = login("read_only").get(student_url("student_detail", enrollment.student))

    states = {credential.name: credential.expiry_state for credential in response.context["credentials"]}
    assert states == {"Old": "expired", "Soon": "expiring", "Later": ""}
    content = response.content.decode()
    assert content.count('<span class="badge badge-expired">Expired</span>') == 1
    assert content.count('<span class="badge badge-expiring">Expiring soon</span>') == 1


def test_student_detail_links_the_member_and_offers_conversion_only_when_allowed(login, enrollment):
    Enrollment.objects.update(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    convert_url = student_url("student_convert", enrollment.student)

    staff = login("staff")
    before = staff.get(student_url("student_detail", enrollment.student)).content.decode()
    member = MemberFactory(student=enrollment.student)
    after = staff.get(student_url("student_detail", enrollment.student)).content.decode()
    read_only = login("read_only").get(student_url("student_detail", enrollment.student)).content.decode()

    assert convert_url in before
    assert convert_url not in read_only
    assert convert_url not in after
    assert f'<a href="/members/{member.pk}/">Member {member.member_number}</a>' in after


def test_student_detail_shows_the_attachments_panel(login, enrollment):
    AttachmentFactory(target_obj=enrollment.student, original_name="photo-id.jpg")

    content = login("staff").get(student_url("student_detail", enrollment.student)).content.decode()

    assert "photo-id.jpg" in content


def test_student_detail_of_a_deleted_student_is_only_for_those_who_may_restore_it(login):
    student = StudentFactory(deleted_at=timezone.now())

    read_only = login("read_only").get(student_url("student_detail", student))
    staff = login("staff").get(student_url("student_detail", student))

    assert read_only.status_code == 404
    assert staff.status_code == 200
    assert student_url("student_restore", student) in staff.content.decode()
    assert student_url("credential_create", student) not in staff.content.decode()


def test_student_detail_escapes_user_data(login):
    student = StudentFactory(last_name="<script>alert(1)</script>")

    content = login("staff").get(student_url("student_detail", student)).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


# --- Student forms ----------------------------------------------------------------------------------------


def test_student_create_saves_and_goes_to_the_new_student(login):
    data = {"first_name": " Ana ", "last_name": "Ruiz", "email": "Ana.Ruiz@Example.org", "state": "wa"}

    response = login("staff").post(reverse("training:student_create"), data)

    student = Student.objects.get(last_name="Ruiz", email="ana.ruiz@example.org")
    assert (student.first_name, student.state) == ("Ana", "WA")
    assert response.status_code == 302
    assert response["Location"] == f"/training/students/{student.pk}/"


def test_student_create_refuses_an_email_taken_by_a_deleted_student(login):
    StudentFactory(email="ana@example.org", deleted_at=timezone.now())

    response = login("staff").post(
        reverse("training:student_create"), {"first_name": "Ana", "last_name": "Ruiz", "email": "ANA@example.org"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "__all__": ["This email address is already in use (deleted records included)."]
    }


def test_student_update_saves(login, enrollment):
    data = {"first_name": "Anna", "last_name": "Ruiz", "email": enrollment.student.email, "is_veteran": "on"}

    response = login("staff").post(student_url("student_update", enrollment.student), data)

    enrollment.student.refresh_from_db()
    assert response.status_code == 302
    assert (enrollment.student.first_name, enrollment.student.is_veteran) == ("Anna", True)


def test_student_delete_needs_a_reason_and_restore_brings_the_student_back(login, enrollment):
    client = login("staff")
    student = enrollment.student

    refused = client.post(student_url("student_delete", student), {"reason": ""})
    deleted = client.post(student_url("student_delete", student), {"reason": "duplicate record"})
    gone = not Student.objects.filter(pk=student.pk).exists()
    restored = client.post(student_url("student_restore", student), {"reason": "not a duplicate"})

    assert (refused.status_code, deleted.status_code, restored.status_code) == (400, 302, 302)
    assert gone
    assert Student.objects.filter(pk=student.pk).exists()
    reasons = [event.pgh_context["reason"] for event in student.events.order_by("pgh_id") if event.pgh_context]
    assert reasons[-2:] == ["duplicate record", "not a duplicate"]


# --- Convert to member ------------------------------------------------------------------------------------


def test_student_convert_creates_the_member_and_goes_to_it(login, enrollment):
    Enrollment.objects.update(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))

    response = login("staff").post(
        student_url("student_convert", enrollment.student),
        {"member_number": " a1234567 ", "classification": "apprentice_1", "join_date": today().isoformat(),
         "status": "active"},
    )  # fmt: skip

    member = Member.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/members/{member.pk}/"
    assert (member.member_number, member.student, member.join_date) == (
        "A1234567",
        enrollment.student,
        today(),
    )


def test_student_convert_shows_the_services_refusal_as_a_form_error(login, enrollment):
    response = login("staff").post(
        student_url("student_convert", enrollment.student),
        {"member_number": "A1234567", "classification": "apprentice_1", "join_date": "2026-01-01", "status": "active"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Only a student who completed the program (a completed enrollment) can become a member."
    ]
    assert not Member.objects.exists()


def test_student_convert_shows_a_taken_member_number_on_the_form(login, enrollment):
    Enrollment.objects.update(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    MemberFactory(member_number="A1234567", deleted_at=timezone.now())

    response = login("staff").post(
        student_url("student_convert", enrollment.student),
        {
            "member_number": "A1234567",
            "classification": "apprentice_1",
            "join_date": today().isoformat(),
            "status": "active",
        },
    )

    assert response.status_code == 400
    assert response.context["form"].errors
    assert Member.all_objects.count() == 1


def test_student_convert_refuses_a_join_date_in_the_future(login, enrollment):
    Enrollment.objects.update(status=EnrollmentStatus.COMPLETED, completed_on=dt.date(2026, 11, 20))
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()

    response = login("staff").post(
        student_url("student_convert", enrollment.student),
        {"member_number": "A1234567", "classification": "apprentice_1", "join_date": tomorrow, "status": "active"},
    )

    assert response.status_code == 400
    assert response.context["form"].errors["join_date"] == ["The join date cannot be in the future."]


# --- Enrollments ------------------------------------------------------------------------------------------


def test_enrollment_create_enrolls_and_goes_back_to_the_student(login):
    student = StudentFactory()
    cohort = CohortFactory(status=CohortStatus.ENROLLING)

    response = login("staff").post(
        student_url("enrollment_create", student), {"cohort": cohort.pk, "enrolled_on": "2026-08-01"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/training/students/{student.pk}/"
    assert list(student.enrollments.values_list("cohort", "status", "enrolled_on")) == [
        (cohort.pk, "enrolled", dt.date(2026, 8, 1))
    ]


def test_enrollment_create_offers_only_cohorts_that_take_enrollments(login, enrollment):
    student = StudentFactory()
    open_cohort = CohortFactory(status=CohortStatus.ENROLLING)
    CohortFactory(status=CohortStatus.CANCELLED)
    CohortFactory(status=CohortStatus.COMPLETED)

    response = login("staff").get(student_url("enrollment_create", student))

    assert set(response.context["form"].fields["cohort"].queryset) == {open_cohort, enrollment.cohort}


def test_enrollment_create_refuses_a_full_cohort_with_a_form_error(login):
    cohort = CohortFactory(max_students=1)
    EnrollmentFactory(cohort=cohort)
    student = StudentFactory()

    response = login("staff").post(
        student_url("enrollment_create", student), {"cohort": cohort.pk, "enrolled_on": "2026-08-01"}
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [f"{cohort} is full: 1 of 1 places are taken."]
    assert not student.enrollments.exists()


def test_enrollment_update_saves_grade_and_notes(login, enrollment):
    response = login("staff").post(row_url("enrollment_update", enrollment), {"final_grade": "91.5", "notes": "ok"})

    enrollment.refresh_from_db()
    assert response.status_code == 302
    assert (enrollment.final_grade, enrollment.notes) == (Decimal("91.5"), "ok")


def test_enrollment_update_refuses_a_grade_over_100(login, enrollment):
    response = login("staff").post(row_url("enrollment_update", enrollment), {"final_grade": "101"})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Final grade must be between 0 and 100."]


def test_enrollment_start_then_complete(login, enrollment):
    client = login("staff")

    started = client.post(row_url("enrollment_start", enrollment), {"reason": ""})
    completed = client.post(
        row_url("enrollment_complete", enrollment), {"completed_on": "2026-11-20", "final_grade": "88"}
    )

    enrollment.refresh_from_db()
    assert (started.status_code, completed.status_code) == (302, 302)
    assert (enrollment.status, enrollment.completed_on, enrollment.final_grade) == (
        EnrollmentStatus.COMPLETED,
        dt.date(2026, 11, 20),
        Decimal("88"),
    )


@pytest.mark.parametrize(("verb", "status"), [("drop", "dropped"), ("withdraw", "withdrawn"), ("defer", "deferred")])
def test_enrollment_leaving_needs_a_reason_which_lands_in_the_history(login, enrollment, verb, status):
    client = login("staff")

    refused = client.post(row_url(f"enrollment_{verb}", enrollment), {"reason": ""})
    response = client.post(row_url(f"enrollment_{verb}", enrollment), {"reason": "moved away"})

    enrollment.refresh_from_db()
    assert (refused.status_code, response.status_code) == (400, 302)
    assert enrollment.status == status
    assert enrollment.events.order_by("pgh_id").last().pgh_context["reason"] == "moved away"


def test_enrollment_transition_outside_the_rules_is_refused_for_staff(login, enrollment):
    response = login("staff").post(row_url("enrollment_complete", enrollment), {"completed_on": "2026-11-20"})

    enrollment.refresh_from_db()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["An enrollment that is Enrolled cannot become Completed."]
    assert enrollment.status == EnrollmentStatus.ENROLLED


def test_enrollment_delete_removes_the_row(login, enrollment):
    response = login("staff").post(row_url("enrollment_delete", enrollment), {"reason": "entered twice"})

    assert response.status_code == 302
    assert not Enrollment.objects.exists()


# --- Credentials ------------------------------------------------------------------------------------------


def test_credential_create_offers_name_suggestions(login, enrollment):
    content = login("staff").get(student_url("credential_create", enrollment.student)).content.decode()

    assert 'list="id_name-suggestions"' in content
    assert '<option value="First Aid/CPR"></option>' in content


def test_credential_create_refuses_expiry_before_issue(login, enrollment):
    response = login("staff").post(
        student_url("credential_create", enrollment.student),
        {"name": "Forklift", "issue_date": "2026-01-05", "expiration_date": "2025-01-05", "status": "active"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["The expiration date cannot be before the issue date."]


def test_credential_update_offers_only_the_allowed_status_changes(login, enrollment):
    credential = enrollment.student.credentials.get()

    response = login("staff").get(row_url("credential_update", credential))

    assert [value for value, _ in response.context["form"].fields["status"].choices] == [
        "active",
        "expired",
        "revoked",
    ]


def test_credential_renew_creates_the_replacement(login, enrollment):
    old = enrollment.student.credentials.get()

    response = login("instructor").post(
        row_url("credential_renew", old),
        {"issue_date": "2029-03-01", "expiration_date": "2032-03-01", "certificate_number": "N-1"},
    )

    old.refresh_from_db()
    new = Credential.objects.get(replaces=old)
    assert response.status_code == 302
    assert old.status == CredentialStatus.RENEWED
    assert (new.name, new.status, new.certificate_number) == (old.name, CredentialStatus.ACTIVE, "N-1")


def test_credential_delete_removes_the_row(login, enrollment):
    credential = enrollment.student.credentials.get()

    response = login("staff").post(row_url("credential_delete", credential), {"reason": "wrong student"})

    assert response.status_code == 302
    assert not Credential.objects.exists()


def test_credential_expiring_lists_active_credentials_in_the_window_soonest_first(login, enrollment):
    Credential.objects.all().delete()
    student = enrollment.student
    make = CredentialFactory
    in_20 = make(student=student, name="A", issue_date=dt.date(2020, 1, 1), expiration_date=today() + dt.timedelta(20))
    in_5 = make(student=student, name="B", issue_date=dt.date(2020, 1, 1), expiration_date=today() + dt.timedelta(5))
    in_45 = make(student=student, name="C", issue_date=dt.date(2020, 1, 1), expiration_date=today() + dt.timedelta(45))
    make(student=student, name="D", issue_date=dt.date(2020, 1, 1), expiration_date=today() + dt.timedelta(5),
         status=CredentialStatus.REVOKED)  # fmt: skip
    make(student=student, name="E", issue_date=dt.date(2020, 1, 1), expiration_date=today() - dt.timedelta(1))
    client = login("read_only")

    default = client.get(reverse("training:credential_expiring")).context["object_list"]
    sixty = client.get(reverse("training:credential_expiring"), {"days": "60"}).context["object_list"]

    assert [(c, c.days_left) for c in default] == [(in_5, 5), (in_20, 20)]
    assert list(sixty) == [in_5, in_20, in_45]


def test_credential_expiring_runs_a_fixed_number_of_queries(login, django_assert_max_num_queries):
    for _ in range(30):
        CredentialFactory(issue_date=dt.date(2020, 1, 1), expiration_date=today() + dt.timedelta(days=10))
    client = login("read_only")
    client.get(reverse("training:credential_expiring"))

    # session, user, permissions (2), roles (scope), count probe, count, page with students
    with django_assert_max_num_queries(8):
        response = client.get(reverse("training:credential_expiring"), {"days": "90"})

    assert len(response.context["object_list"]) == 30


def test_credential_expiring_rejects_another_window(login):
    response = login("read_only").get(reverse("training:credential_expiring"), {"days": "7"})

    assert response.status_code == 400


# --- JATC applications ------------------------------------------------------------------------------------


def test_jatcapplication_create_starts_a_draft(login, enrollment):
    response = login("staff").post(
        student_url("jatcapplication_create", enrollment.student),
        {"application_date": "2026-12-01", "trade_preference": "inside wireman", "status": "accepted"},
    )

    application = enrollment.student.jatc_applications.get(trade_preference="inside wireman")
    assert response.status_code == 302
    assert application.status == ApplicationStatus.DRAFT


def test_jatcapplication_update_refuses_an_interview_before_the_application(login, enrollment):
    application = enrollment.student.jatc_applications.get()

    response = login("staff").post(
        row_url("jatcapplication_update", application),
        {"application_date": "2026-06-01", "interview_date": "2026-05-01"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["The interview date cannot be before the application date."]


def test_jatcapplication_advance_offers_the_next_statuses_and_asks_for_the_dates(login, enrollment):
    application = enrollment.student.jatc_applications.get()
    JATCApplication.objects.update(status=ApplicationStatus.UNDER_REVIEW)
    client = login("staff")

    offered = client.get(row_url("jatcapplication_advance", application)).context["form"].fields["status"].choices
    refused = client.post(row_url("jatcapplication_advance", application), {"status": "interview_scheduled"})
    response = client.post(
        row_url("jatcapplication_advance", application),
        {"status": "interview_scheduled", "interview_date": "2026-07-01"},
    )

    application.refresh_from_db()
    assert [value for value, _ in offered] == ["interview_scheduled", "withdrawn"]
    assert refused.status_code == 400
    assert refused.context["form"].errors["interview_date"] == ["Scheduling an interview needs its date."]
    assert response.status_code == 302
    assert (application.status, application.interview_date) == ("interview_scheduled", dt.date(2026, 7, 1))


def test_jatcapplication_advance_of_a_final_application_is_not_found(login, enrollment):
    JATCApplication.objects.update(status=ApplicationStatus.WITHDRAWN)

    response = login("staff").get(row_url("jatcapplication_advance", enrollment.student.jatc_applications.get()))

    assert response.status_code == 404


def test_jatcapplication_list_filters_by_status_and_student_name(login, enrollment):
    JATCApplicationFactory(student__last_name="Zeller", status=ApplicationStatus.SUBMITTED)
    client = login("read_only")

    submitted = client.get(reverse("training:jatcapplication_list"), {"status": "submitted"}).context["object_list"]
    ruiz = client.get(reverse("training:jatcapplication_list"), {"q": "ruiz"}).context["object_list"]

    assert [a.student.last_name for a in submitted] == ["Zeller"]
    assert [a.student.last_name for a in ruiz] == ["Ruiz"]


def test_jatcapplication_list_runs_a_fixed_number_of_queries(login, django_assert_max_num_queries):
    JATCApplicationFactory.create_batch(30)
    client = login("read_only")
    client.get(reverse("training:jatcapplication_list"))

    # session, user, permissions (2), roles (scope), count probe, count, page with students
    with django_assert_max_num_queries(8):
        response = client.get(reverse("training:jatcapplication_list"), {"sort": "student"})

    assert len(response.context["object_list"]) == 31


def test_jatcapplication_delete_removes_the_row(login, enrollment):
    application = enrollment.student.jatc_applications.get()

    response = login("staff").post(row_url("jatcapplication_delete", application), {"reason": "duplicate"})

    assert response.status_code == 302
    assert not JATCApplication.objects.exists()


# --- The member page shows the credentials of the student record it came from ------------------------------


def test_member_detail_shows_the_linked_students_credentials_with_expiry(login, enrollment):
    Credential.objects.update(expiration_date=today() - dt.timedelta(days=3), issue_date=dt.date(2020, 1, 1))
    member = MemberFactory(student=enrollment.student)

    response = login("officer").get(reverse("members:member_detail", args=[member.pk]))

    content = response.content.decode()
    [credential] = response.context["student_credentials"]
    assert credential.expiry_state == "expired"
    assert f'<a href="/training/students/{enrollment.student.pk}/#credentials">Ana Ruiz</a>' in content
    assert '<span class="badge badge-expired">Expired</span>' in content
    assert row_url("credential_update", credential) not in content


def test_member_detail_without_a_student_record_has_no_credentials_panel(login):
    member = MemberFactory()

    response = login("officer").get(reverse("members:member_detail", args=[member.pk]))

    assert response.context["student_credentials"] is None
    assert 'id="credentials-heading"' not in response.content.decode()


@pytest.mark.parametrize("page", ["enrollment_update", "credential_update", "jatcapplication_update"])
def test_rows_of_a_deleted_student_are_not_found(login, enrollment, page):
    rows = {
        "enrollment_update": enrollment,
        "credential_update": enrollment.student.credentials.get(),
        "jatcapplication_update": enrollment.student.jatc_applications.get(),
    }
    enrollment.student.soft_delete(reason="duplicate")

    response = login("admin").get(row_url(page, rows[page]))

    assert response.status_code == 404


def test_credential_expiring_leaves_out_deleted_students(login, enrollment):
    Credential.objects.update(expiration_date=today() + dt.timedelta(days=3))
    enrollment.student.soft_delete(reason="duplicate")

    response = login("staff").get(reverse("training:credential_expiring"))

    assert list(response.context["object_list"]) == []


def test_jatc_application_override_by_an_admin_reopens_a_final_application_with_a_reason(login):
    application = JATCApplicationFactory(status="rejected", decision_date=dt.date(2026, 7, 1))
    client = login("admin")

    refused = client.post(row_url("jatcapplication_advance", application), {"status": "under_review", "reason": ""})
    done = client.post(
        row_url("jatcapplication_advance", application), {"status": "under_review", "reason": "appeal upheld"}
    )

    assert refused.status_code == 400
    assert done.status_code == 302
    application.refresh_from_db()
    assert application.status == "under_review"


def test_jatc_application_that_is_final_has_no_status_page_for_staff(login):
    application = JATCApplicationFactory(status="rejected", decision_date=dt.date(2026, 7, 1))

    assert login("staff").get(row_url("jatcapplication_advance", application)).status_code == 404
