"""The training data layer holds DOMAIN.md §4.3: every [DB] rule is enforced by PostgreSQL and shown by forms."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import models
from django.forms import modelform_factory
from django.utils import timezone

from ip2a.tests.database_rules import (
    constraint,
    constraint_messages,
    form_messages,
    index_definition,
    message,
    violates,
)
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
    LocationFactory,
    StudentFactory,
)
from training.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    Credential,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    JATCApplication,
    Location,
    Student,
)

pytestmark = pytest.mark.django_db

MODELS = [
    Student,
    Instructor,
    Location,
    Cohort,
    CohortInstructor,
    ClassSession,
    Enrollment,
    Attendance,
    Credential,
    JATCApplication,
]
ENROLLED_ON = datetime.date(2026, 8, 15)
APPLIED_ON = datetime.date(2026, 6, 1)
DAY = datetime.timedelta(days=1)


STUDENT_FIELDS = ["first_name", "last_name", "email"]
INSTRUCTOR_FIELDS = ["first_name", "last_name", "email", "rate_type", "rate_amount"]
LOCATION_FIELDS = ["name", "code", "location_type"]
COHORT_FIELDS = ["name", "code", "status", "start_date", "end_date", "max_students"]
ASSIGNMENT_FIELDS = ["cohort", "instructor", "is_primary"]
SESSION_FIELDS = ["cohort", "date", "start_time", "end_time"]
ENROLLMENT_FIELDS = ["student", "cohort", "status", "enrolled_on", "status_changed_on", "completed_on", "final_grade"]
ATTENDANCE_FIELDS = ["session", "student", "status", "minutes_late"]
CREDENTIAL_FIELDS = ["student", "name", "issue_date", "expiration_date", "status"]
APPLICATION_FIELDS = [
    "student",
    "application_date",
    "status",
    "interview_date",
    "decision_date",
    "interview_score",
    "aptitude_score",
]


def person_data(**overrides):
    return {"first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.org", "rate_type": "hourly", **overrides}


def cohort_data(**overrides):
    return {"name": "Fall", "code": "IP2A-2026-09", "status": "planned", "start_date": "2026-09-01", **overrides}


def enrollment_data(**overrides):
    return {
        "student": StudentFactory().pk,
        "cohort": CohortFactory().pk,
        "status": "enrolled",
        "enrolled_on": "2026-08-15",
        "status_changed_on": "2026-08-15",
        **overrides,
    }


def application_data(**overrides):
    return {"student": StudentFactory().pk, "application_date": "2026-06-01", "status": "submitted", **overrides}


# --- Declarations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_constraint", [(m, c) for m in MODELS for c in m._meta.constraints], ids=lambda mc: mc[1].name
)
def test_constraint_is_named_by_house_rule_and_declares_a_sentence(model_constraint):
    model, rule = model_constraint

    assert rule.name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_")
    assert rule.violation_error_message != rule.default_violation_error_message
    assert rule.violation_error_message[0].isupper()
    assert rule.violation_error_message.endswith(".")


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (m, f.name)
        for m in MODELS
        for f in m._meta.concrete_fields
        if isinstance(f, models.CharField) and not f.blank and not f.choices
    ],
)
def test_required_text_field_has_a_not_blank_check(model, field):
    assert constraint(model, f"{field}_not_blank")


@pytest.mark.parametrize(
    ("model", "field", "target", "on_delete", "related_name"),
    [
        (Instructor, "user", User, models.SET_NULL, "instructor"),
        (Cohort, "location", Location, models.PROTECT, "cohorts"),
        (CohortInstructor, "cohort", Cohort, models.CASCADE, "assignments"),
        (CohortInstructor, "instructor", Instructor, models.PROTECT, "assignments"),
        (ClassSession, "cohort", Cohort, models.CASCADE, "sessions"),
        (ClassSession, "instructor", Instructor, models.PROTECT, "sessions"),
        (ClassSession, "location", Location, models.PROTECT, "sessions"),
        (Enrollment, "student", Student, models.CASCADE, "enrollments"),
        (Enrollment, "cohort", Cohort, models.PROTECT, "enrollments"),
        (Attendance, "session", ClassSession, models.CASCADE, "attendance"),
        (Attendance, "student", Student, models.CASCADE, "attendance"),
        (Credential, "student", Student, models.CASCADE, "credentials"),
        (Credential, "replaces", Credential, models.SET_NULL, "renewals"),
        (JATCApplication, "student", Student, models.CASCADE, "jatc_applications"),
    ],
)
def test_relation_is_declared_as_in_the_domain(model, field, target, on_delete, related_name):
    relation = model._meta.get_field(field)

    assert relation.related_model is target
    assert relation.remote_field.on_delete is on_delete
    assert relation.remote_field.related_name == related_name


def test_cohort_instructors_go_through_cohort_instructor():
    assert Cohort._meta.get_field("instructors").remote_field.through is CohortInstructor


@pytest.mark.parametrize(
    ("model", "field", "max_digits"),
    [
        (Instructor, "rate_amount", 10),
        (Enrollment, "final_grade", 5),
        (JATCApplication, "interview_score", 5),
        (JATCApplication, "aptitude_score", 5),
    ],
)
def test_decimal_field_has_the_domain_precision(model, field, max_digits):
    column = model._meta.get_field(field)

    assert isinstance(column, models.DecimalField)
    assert (column.max_digits, column.decimal_places) == (max_digits, 2)


@pytest.mark.parametrize(
    ("model", "field", "max_length"),
    [
        (Student, "first_name", 100),
        (Student, "referral_source", 100),
        (Student, "shirt_size", 10),
        (Student, "shoe_size", 10),
        (Location, "name", 255),
        (Location, "code", 20),
        (Cohort, "name", 100),
        (Cohort, "code", 30),
        (ClassSession, "topic", 255),
        (Attendance, "notes", 255),
        (Credential, "name", 255),
        (JATCApplication, "trade_preference", 100),
    ],
)
def test_text_field_has_the_domain_length(model, field, max_length):
    assert model._meta.get_field(field).max_length == max_length


@pytest.mark.parametrize(
    ("model", "field", "default"),
    [
        (Student, "is_veteran", False),
        (Instructor, "is_contractor_1099", False),
        (Instructor, "is_active", True),
        (CohortInstructor, "is_primary", False),
        (ClassSession, "is_cancelled", False),
    ],
)
def test_boolean_field_has_the_domain_default(model, field, default):
    assert model._meta.get_field(field).default is default


def test_enrollment_dates_default_to_today_in_the_configured_time_zone():
    enrollment = Enrollment()

    assert enrollment.enrolled_on == timezone.localdate()
    assert enrollment.status_changed_on == timezone.localdate()


@pytest.mark.parametrize(
    ("name", "ending"),
    [
        ("student_name_upper_idx", "USING btree (upper((last_name)::text), upper((first_name)::text))"),
        ("training_student_email_unique", "USING btree (lower((email)::text))"),
        ("training_instructor_email_unique", "USING btree (lower((email)::text))"),
        ("training_location_code_unique", "USING btree (code) WHERE (NOT ((code)::text = ''::text))"),
        ("training_cohort_code_unique", "USING btree (code) WHERE (NOT ((code)::text = ''::text))"),
        ("training_cohortinstructor_instructor_unique", "USING btree (cohort_id, instructor_id)"),
        ("training_cohortinstructor_one_primary_instructor", "USING btree (cohort_id) WHERE is_primary"),
        ("session_cohort_date_idx", "USING btree (cohort_id, date)"),
        ("training_enrollment_one_enrollment_per_cohort", "USING btree (student_id, cohort_id)"),
        ("training_attendance_one_mark_per_session", "USING btree (student_id, session_id)"),
    ],
)
def test_domain_index_exists_in_the_database(name, ending):
    assert index_definition(name).endswith(ending)


# --- Required text and choices ---------------------------------------------------------------------------

NOT_BLANK = [
    (StudentFactory, "first_name"),
    (StudentFactory, "last_name"),
    (StudentFactory, "email"),
    (InstructorFactory, "first_name"),
    (InstructorFactory, "last_name"),
    (InstructorFactory, "email"),
    (LocationFactory, "name"),
    (CohortFactory, "name"),
    (CredentialFactory, "name"),
]


@pytest.mark.parametrize(("factory", "field"), NOT_BLANK)
def test_blank_required_text_is_rejected_by_the_database(factory, field):
    row = factory()
    model = factory._meta.model

    with violates(f"training_{model._meta.model_name}_{field}_not_blank"):
        model._base_manager.filter(pk=row.pk).update(**{field: " "})


@pytest.mark.parametrize(("factory", "field"), NOT_BLANK)
def test_blank_required_text_shows_the_message(factory, field):
    row = factory()
    setattr(row, field, "   ")

    # validate_constraints(): full_clean() would stop a blank email at the EmailField's own validator first.
    assert message(factory._meta.model, f"{field}_not_blank") in constraint_messages(row, full_clean=False)


CHOICES = [
    (InstructorFactory, "rate_type", "weekly"),
    (LocationFactory, "location_type", "warehouse"),
    (CohortFactory, "status", "running"),
    (EnrollmentFactory, "status", "graduated"),
    (AttendanceFactory, "status", "tardy"),
    (CredentialFactory, "status", "lapsed"),
    (JATCApplicationFactory, "status", "pending"),
]


@pytest.mark.parametrize(("factory", "field", "value"), CHOICES)
def test_unknown_choice_is_rejected_by_the_database(factory, field, value):
    row = factory()
    model = factory._meta.model

    with violates(f"training_{model._meta.model_name}_{field}_valid"):
        model._base_manager.filter(pk=row.pk).update(**{field: value})


@pytest.mark.parametrize(("factory", "field", "value"), CHOICES)
def test_unknown_choice_shows_the_message(factory, field, value):
    row = factory()
    setattr(row, field, value)

    assert message(factory._meta.model, f"{field}_valid") in constraint_messages(row, full_clean=False)


# --- Student and Instructor emails -----------------------------------------------------------------------


@pytest.mark.parametrize("factory", [StudentFactory, InstructorFactory])
@pytest.mark.parametrize("holder_deleted", [False, True], ids=["live-holder", "deleted-holder"])
def test_email_differing_only_in_case_is_rejected_by_the_database(factory, holder_deleted):
    holder = factory(email="ana@example.org")
    if holder_deleted:
        holder.soft_delete(reason="left the program")
    model = factory._meta.model

    with violates(f"training_{model._meta.model_name}_email_unique"):
        model.objects.bulk_create([factory.build(email="ANA@Example.org")])


@pytest.mark.parametrize(
    ("factory", "fields"), [(StudentFactory, STUDENT_FIELDS), (InstructorFactory, INSTRUCTOR_FIELDS)]
)
@pytest.mark.parametrize("holder_deleted", [False, True], ids=["live-holder", "deleted-holder"])
def test_email_differing_only_in_case_shows_the_message_in_the_form(factory, fields, holder_deleted):
    holder = factory(email="ana@example.org")
    if holder_deleted:
        holder.soft_delete(reason="left the program")
    model = factory._meta.model

    errors = form_messages(model, fields, person_data(email="Ana@Example.ORG"))

    assert message(model, "email_unique") in errors


@pytest.mark.parametrize("factory", [StudentFactory, InstructorFactory])
def test_email_is_stored_lower_case(factory):
    row = factory(email="  Ana.Ruiz@Example.ORG ")

    row.refresh_from_db()
    assert row.email == "ana.ruiz@example.org"


# --- Instructor rate -------------------------------------------------------------------------------------


def test_negative_rate_amount_is_rejected_by_the_database():
    instructor = InstructorFactory()

    with violates("training_instructor_rate_amount_non_negative"):
        Instructor.objects.filter(pk=instructor.pk).update(rate_amount=Decimal("-0.01"))


def test_negative_rate_amount_shows_the_message_in_the_form():
    errors = form_messages(Instructor, INSTRUCTOR_FIELDS, person_data(rate_amount="-5"))

    assert message(Instructor, "rate_amount_non_negative") in errors


def test_zero_rate_amount_is_accepted():
    form = modelform_factory(Instructor, fields=INSTRUCTOR_FIELDS)(data=person_data(rate_amount="0"))

    assert form.is_valid(), form.errors


# --- Location and cohort codes ---------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [LocationFactory, CohortFactory])
@pytest.mark.parametrize("holder_deleted", [False, True], ids=["live-holder", "deleted-holder"])
def test_duplicate_code_is_rejected_by_the_database(factory, holder_deleted):
    holder = factory(code="SEA-01")
    if holder_deleted:
        holder.soft_delete(reason="closed")
    model = factory._meta.model
    duplicate = factory.build(code="SEA-01")
    if model is Cohort:
        duplicate.location = holder.location

    with violates(f"training_{model._meta.model_name}_code_unique"):
        model.objects.bulk_create([duplicate])


@pytest.mark.parametrize(
    ("factory", "fields", "data"),
    [
        (LocationFactory, LOCATION_FIELDS, {"name": "Hall", "location_type": "training_site"}),
        (CohortFactory, COHORT_FIELDS, cohort_data()),
    ],
)
@pytest.mark.parametrize("holder_deleted", [False, True], ids=["live-holder", "deleted-holder"])
def test_duplicate_code_shows_the_message_in_the_form(factory, fields, data, holder_deleted):
    holder = factory(code="SEA-01")
    if holder_deleted:
        holder.soft_delete(reason="closed")
    model = factory._meta.model

    errors = form_messages(model, fields, {**data, "code": "SEA-01"})

    assert message(model, "code_unique") in errors


@pytest.mark.parametrize("factory", [LocationFactory, CohortFactory])
def test_blank_codes_do_not_collide(factory):
    factory(code="")
    factory(code="")

    assert factory._meta.model.objects.filter(code="").count() == 2


# --- Cohort ----------------------------------------------------------------------------------------------


def test_cohort_ending_before_it_starts_is_rejected_by_the_database():
    cohort = CohortFactory(start_date=datetime.date(2026, 9, 1))

    with violates("training_cohort_end_after_start"):
        Cohort.objects.filter(pk=cohort.pk).update(end_date=datetime.date(2026, 8, 31))


def test_cohort_ending_before_it_starts_shows_the_message_in_the_form():
    errors = form_messages(Cohort, COHORT_FIELDS, cohort_data(end_date="2026-08-31"))

    assert message(Cohort, "end_after_start") in errors


def test_cohort_with_zero_max_students_is_rejected_by_the_database():
    cohort = CohortFactory()

    with violates("training_cohort_max_students_positive"):
        Cohort.objects.filter(pk=cohort.pk).update(max_students=0)


def test_cohort_with_zero_max_students_shows_the_message_in_the_form():
    errors = form_messages(Cohort, COHORT_FIELDS, cohort_data(max_students="0"))

    assert message(Cohort, "max_students_positive") in errors


def test_cohort_with_one_seat_or_no_limit_is_accepted():
    assert CohortFactory(max_students=1).max_students == 1
    assert CohortFactory(max_students=None).max_students is None


# --- CohortInstructor ------------------------------------------------------------------------------------


def test_instructor_assigned_twice_to_a_cohort_is_rejected_by_the_database():
    assignment = CohortInstructorFactory(is_primary=False)

    with violates("training_cohortinstructor_instructor_unique"):
        CohortInstructor.objects.bulk_create(
            [CohortInstructor(cohort=assignment.cohort, instructor=assignment.instructor)]
        )


def test_instructor_assigned_twice_to_a_cohort_shows_the_message_in_the_form():
    assignment = CohortInstructorFactory(is_primary=False)

    errors = form_messages(
        CohortInstructor, ASSIGNMENT_FIELDS, {"cohort": assignment.cohort.pk, "instructor": assignment.instructor.pk}
    )

    assert message(CohortInstructor, "instructor_unique") in errors


def test_second_primary_instructor_is_rejected_by_the_database():
    primary = CohortInstructorFactory(is_primary=True)
    other = CohortInstructorFactory(cohort=primary.cohort, is_primary=False)

    with violates("training_cohortinstructor_one_primary_instructor"):
        CohortInstructor.objects.filter(pk=other.pk).update(is_primary=True)


def test_second_primary_instructor_shows_the_message_in_the_form():
    primary = CohortInstructorFactory(is_primary=True)

    errors = form_messages(
        CohortInstructor,
        ASSIGNMENT_FIELDS,
        {"cohort": primary.cohort.pk, "instructor": InstructorFactory().pk, "is_primary": "on"},
    )

    assert message(CohortInstructor, "one_primary_instructor") in errors


# --- ClassSession ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [datetime.time(17, 0), datetime.time(18, 0)], ids=["before", "equal"])
def test_session_ending_before_it_starts_is_rejected_by_the_database(end):
    session = ClassSessionFactory(start_time=datetime.time(18, 0), end_time=datetime.time(21, 0))

    with violates("training_classsession_end_time_after_start"):
        ClassSession.objects.filter(pk=session.pk).update(end_time=end)


def test_session_ending_before_it_starts_shows_the_message_in_the_form():
    errors = form_messages(
        ClassSession,
        SESSION_FIELDS,
        {"cohort": CohortFactory().pk, "date": "2026-09-01", "start_time": "18:00", "end_time": "17:30"},
    )

    assert message(ClassSession, "end_time_after_start") in errors


def test_session_with_only_one_time_is_accepted():
    session = ClassSessionFactory(start_time=datetime.time(18, 0), end_time=None)

    assert session.end_time is None


# --- Enrollment ------------------------------------------------------------------------------------------


def test_second_enrollment_in_a_cohort_is_rejected_by_the_database():
    enrollment = EnrollmentFactory()

    with violates("training_enrollment_one_enrollment_per_cohort"):
        Enrollment.objects.bulk_create([EnrollmentFactory.build(student=enrollment.student, cohort=enrollment.cohort)])


def test_second_enrollment_in_a_cohort_shows_the_message_in_the_form():
    enrollment = EnrollmentFactory()

    errors = form_messages(
        Enrollment, ENROLLMENT_FIELDS, enrollment_data(student=enrollment.student.pk, cohort=enrollment.cohort.pk)
    )

    assert message(Enrollment, "one_enrollment_per_cohort") in errors


@pytest.mark.parametrize(
    "change",
    [
        {"status": EnrollmentStatus.COMPLETED},
        {"completed_on": datetime.date(2026, 11, 20)},
    ],
    ids=["completed-without-date", "date-without-completed"],
)
def test_completion_date_disagreeing_with_status_is_rejected_by_the_database(change):
    enrollment = EnrollmentFactory()

    with violates("training_enrollment_completed_on_iff_completed"):
        Enrollment.objects.filter(pk=enrollment.pk).update(**change)


@pytest.mark.parametrize(
    "change",
    [{"status": "completed"}, {"status": "in_progress", "completed_on": "2026-11-20"}],
    ids=["completed-without-date", "date-without-completed"],
)
def test_completion_date_disagreeing_with_status_shows_the_message_in_the_form(change):
    errors = form_messages(Enrollment, ENROLLMENT_FIELDS, enrollment_data(**change))

    assert message(Enrollment, "completed_on_iff_completed") in errors


def test_completion_before_enrollment_is_rejected_by_the_database():
    enrollment = EnrollmentFactory(enrolled_on=ENROLLED_ON)

    with violates("training_enrollment_completed_after_enrolled"):
        Enrollment.objects.filter(pk=enrollment.pk).update(
            status=EnrollmentStatus.COMPLETED, completed_on=ENROLLED_ON - DAY
        )


def test_completion_before_enrollment_shows_the_message_in_the_form():
    errors = form_messages(
        Enrollment, ENROLLMENT_FIELDS, enrollment_data(status="completed", completed_on="2026-08-14")
    )

    assert message(Enrollment, "completed_after_enrolled") in errors


def test_completed_enrollment_with_its_date_is_accepted():
    enrollment = EnrollmentFactory(status=EnrollmentStatus.COMPLETED, completed_on=ENROLLED_ON)

    assert enrollment.completed_on == ENROLLED_ON


@pytest.mark.parametrize("grade", [Decimal("-0.01"), Decimal("100.01")])
def test_final_grade_outside_0_to_100_is_rejected_by_the_database(grade):
    enrollment = EnrollmentFactory()

    with violates("training_enrollment_final_grade_range"):
        Enrollment.objects.filter(pk=enrollment.pk).update(final_grade=grade)


@pytest.mark.parametrize("grade", ["-1", "100.5"])
def test_final_grade_outside_0_to_100_shows_the_message_in_the_form(grade):
    errors = form_messages(Enrollment, ENROLLMENT_FIELDS, enrollment_data(final_grade=grade))

    assert message(Enrollment, "final_grade_range") in errors


@pytest.mark.parametrize("grade", [Decimal("0"), Decimal("100")])
def test_final_grade_at_the_bounds_is_accepted(grade):
    assert EnrollmentFactory(final_grade=grade).final_grade == grade


# --- Attendance ------------------------------------------------------------------------------------------


def test_second_mark_for_a_session_is_rejected_by_the_database():
    mark = AttendanceFactory()

    with violates("training_attendance_one_mark_per_session"):
        Attendance.objects.bulk_create([Attendance(session=mark.session, student=mark.student)])


def test_second_mark_for_a_session_shows_the_message_in_the_form():
    mark = AttendanceFactory()

    errors = form_messages(
        Attendance, ATTENDANCE_FIELDS, {"session": mark.session.pk, "student": mark.student.pk, "status": "absent"}
    )

    assert message(Attendance, "one_mark_per_session") in errors


@pytest.mark.parametrize("status", [s for s in AttendanceStatus if s != AttendanceStatus.LATE])
def test_minutes_late_on_a_non_late_mark_is_rejected_by_the_database(status):
    mark = AttendanceFactory(status=status)

    with violates("training_attendance_minutes_late_only_when_late"):
        Attendance.objects.filter(pk=mark.pk).update(minutes_late=10)


def test_minutes_late_on_a_non_late_mark_shows_the_message_in_the_form():
    mark = AttendanceFactory()

    errors = form_messages(
        Attendance,
        ATTENDANCE_FIELDS,
        {"session": ClassSessionFactory(cohort=mark.session.cohort).pk, "student": mark.student.pk}
        | {"status": "present", "minutes_late": "10"},
    )

    assert message(Attendance, "minutes_late_only_when_late") in errors


def test_minutes_late_on_a_late_mark_is_accepted():
    assert AttendanceFactory(status=AttendanceStatus.LATE, minutes_late=10).minutes_late == 10


# --- Credential ------------------------------------------------------------------------------------------


def test_credential_expiring_before_issue_is_rejected_by_the_database():
    credential = CredentialFactory(issue_date=datetime.date(2026, 3, 2))

    with violates("training_credential_expiration_after_issue"):
        Credential.objects.filter(pk=credential.pk).update(expiration_date=datetime.date(2026, 3, 1))


def test_credential_expiring_before_issue_shows_the_message_in_the_form():
    errors = form_messages(
        Credential,
        CREDENTIAL_FIELDS,
        {"student": StudentFactory().pk, "name": "OSHA 10", "status": "active"}
        | {"issue_date": "2026-03-02", "expiration_date": "2026-03-01"},
    )

    assert message(Credential, "expiration_after_issue") in errors


def test_credential_without_expiration_is_accepted():
    assert CredentialFactory(expiration_date=None).expiration_date is None


# --- JATCApplication -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "rule"),
    [("interview_date", "interview_after_application"), ("decision_date", "decision_after_application")],
)
def test_application_date_before_applying_is_rejected_by_the_database(field, rule):
    application = JATCApplicationFactory(application_date=APPLIED_ON)

    with violates(f"training_jatcapplication_{rule}"):
        JATCApplication.objects.filter(pk=application.pk).update(**{field: APPLIED_ON - DAY})


@pytest.mark.parametrize(
    ("field", "rule"),
    [("interview_date", "interview_after_application"), ("decision_date", "decision_after_application")],
)
def test_application_date_before_applying_shows_the_message_in_the_form(field, rule):
    errors = form_messages(JATCApplication, APPLICATION_FIELDS, application_data(**{field: "2026-05-31"}))

    assert message(JATCApplication, rule) in errors


DECIDED = ["accepted", "rejected", "waitlisted"]


@pytest.mark.parametrize("status", DECIDED)
def test_decision_without_decision_date_is_rejected_by_the_database(status):
    application = JATCApplicationFactory()

    with violates("training_jatcapplication_decision_date_required"):
        JATCApplication.objects.filter(pk=application.pk).update(status=status)


@pytest.mark.parametrize("status", DECIDED)
def test_decision_without_decision_date_shows_the_message_in_the_form(status):
    errors = form_messages(JATCApplication, APPLICATION_FIELDS, application_data(status=status))

    assert message(JATCApplication, "decision_date_required") in errors


@pytest.mark.parametrize("status", ["draft", "interviewed", "withdrawn"])
def test_undecided_application_needs_no_decision_date(status):
    form = modelform_factory(JATCApplication, fields=APPLICATION_FIELDS)(data=application_data(status=status))

    assert form.is_valid(), form.errors


@pytest.mark.parametrize("field", ["interview_score", "aptitude_score"])
@pytest.mark.parametrize("score", [Decimal("-0.5"), Decimal("100.25")])
def test_score_outside_0_to_100_is_rejected_by_the_database(field, score):
    application = JATCApplicationFactory()

    with violates(f"training_jatcapplication_{field}_range"):
        JATCApplication.objects.filter(pk=application.pk).update(**{field: score})


@pytest.mark.parametrize("field", ["interview_score", "aptitude_score"])
@pytest.mark.parametrize("score", ["-1", "101"])
def test_score_outside_0_to_100_shows_the_message_in_the_form(field, score):
    errors = form_messages(JATCApplication, APPLICATION_FIELDS, application_data(**{field: score}))

    assert message(JATCApplication, f"{field}_range") in errors


# --- Derived values --------------------------------------------------------------------------------------


def test_student_without_enrollments_is_an_applicant():
    student = StudentFactory()

    assert student.program_status == "Applicant"
    assert student.current_enrollment is None


def test_student_program_status_is_the_label_of_the_latest_enrollment():
    student = StudentFactory()
    EnrollmentFactory(student=student, enrolled_on=datetime.date(2025, 1, 10), status=EnrollmentStatus.DEFERRED)
    EnrollmentFactory(student=student, enrolled_on=datetime.date(2026, 1, 10), status=EnrollmentStatus.IN_PROGRESS)

    assert student.program_status == "In progress"


def test_student_current_enrollment_is_the_latest_open_one():
    student = StudentFactory()
    EnrollmentFactory(student=student, enrolled_on=datetime.date(2025, 1, 10))
    latest = EnrollmentFactory(student=student, enrolled_on=datetime.date(2026, 1, 10))
    EnrollmentFactory(
        student=student,
        enrolled_on=datetime.date(2026, 2, 10),
        status=EnrollmentStatus.COMPLETED,
        completed_on=datetime.date(2026, 5, 1),
    )

    assert student.current_enrollment == latest


def test_student_with_only_closed_enrollments_has_no_current_one():
    student = StudentFactory()
    EnrollmentFactory(student=student, status=EnrollmentStatus.DROPPED)

    assert student.current_enrollment is None
    assert student.program_status == "Dropped"


def test_student_attendance_rate_is_none_without_marks():
    assert StudentFactory().attendance_rate is None


def test_student_attendance_rate_counts_present_late_and_early_departure_as_attended():
    enrollment = EnrollmentFactory()
    statuses = [AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.EARLY_DEPARTURE]
    for status in [*statuses, AttendanceStatus.ABSENT]:
        AttendanceFactory(
            session=ClassSessionFactory(cohort=enrollment.cohort), student=enrollment.student, status=status
        )

    assert enrollment.student.attendance_rate == 0.75


@pytest.mark.parametrize(
    ("days_to_expiry", "expired"),
    [(-1, True), (0, False), (30, False), (None, False)],
    ids=["yesterday", "today", "next-month", "never"],
)
def test_credential_is_expired_after_its_expiration_date(days_to_expiry, expired):
    today = timezone.localdate()
    expiration = None if days_to_expiry is None else today + datetime.timedelta(days=days_to_expiry)
    credential = CredentialFactory.build(issue_date=today - datetime.timedelta(days=400), expiration_date=expiration)

    assert credential.is_expired is expired
