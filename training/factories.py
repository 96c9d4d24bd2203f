import datetime

import factory
from factory.django import DjangoModelFactory

from training.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Credential,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    JATCApplication,
    Location,
    Student,
)


class StudentFactory(DjangoModelFactory):
    class Meta:
        model = Student

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"student{n}@example.org")


class InstructorFactory(DjangoModelFactory):
    class Meta:
        model = Instructor

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"instructor{n}@example.org")


class LocationFactory(DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Training Center {n}")
    code = factory.Sequence(lambda n: f"LOC-{n:04d}")
    capacity = 40


class CohortFactory(DjangoModelFactory):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")
    code = factory.Sequence(lambda n: f"IP2A-2026-{n:02d}")
    status = CohortStatus.ACTIVE
    start_date = datetime.date(2026, 9, 1)
    end_date = datetime.date(2026, 11, 20)
    max_students = 20
    location = factory.SubFactory(LocationFactory)


class CohortInstructorFactory(DjangoModelFactory):
    class Meta:
        model = CohortInstructor

    cohort = factory.SubFactory(CohortFactory)
    instructor = factory.SubFactory(InstructorFactory)
    is_primary = True


class ClassSessionFactory(DjangoModelFactory):
    """A session on the cohort's first day, taught by an instructor assigned to the cohort."""

    class Meta:
        model = ClassSession

    cohort = factory.SubFactory(CohortFactory)
    date = factory.LazyAttribute(lambda session: session.cohort.start_date)
    start_time = datetime.time(18, 0)
    end_time = datetime.time(21, 0)
    location = factory.LazyAttribute(lambda session: session.cohort.location)
    instructor = factory.LazyAttribute(
        lambda session: CohortInstructorFactory(cohort=session.cohort, is_primary=False).instructor
    )


class EnrollmentFactory(DjangoModelFactory):
    class Meta:
        model = Enrollment

    student = factory.SubFactory(StudentFactory)
    cohort = factory.SubFactory(CohortFactory)
    status = EnrollmentStatus.ENROLLED
    enrolled_on = datetime.date(2026, 8, 15)
    status_changed_on = datetime.date(2026, 8, 15)


class AttendanceFactory(DjangoModelFactory):
    """A mark for a student enrolled in the session's cohort."""

    class Meta:
        model = Attendance

    session = factory.SubFactory(ClassSessionFactory)
    student = factory.LazyAttribute(lambda mark: EnrollmentFactory(cohort=mark.session.cohort).student)
    status = AttendanceStatus.PRESENT


class CredentialFactory(DjangoModelFactory):
    class Meta:
        model = Credential

    student = factory.SubFactory(StudentFactory)
    name = "OSHA 10"
    issuing_org = "OSHA Training Institute"
    certificate_number = factory.Sequence(lambda n: f"C{n:06d}")
    issue_date = datetime.date(2026, 3, 2)
    expiration_date = datetime.date(2029, 3, 2)


class JATCApplicationFactory(DjangoModelFactory):
    class Meta:
        model = JATCApplication

    student = factory.SubFactory(StudentFactory)
    application_date = datetime.date(2026, 6, 1)
