"""Training resources: students and instructors by email, locations and cohorts by code, export-only rows."""

import pytest
import tablib

from training.factories import CohortFactory, EnrollmentFactory, LocationFactory, StudentFactory
from training.models import Cohort, Location, Student
from training.resources import CohortResource, EnrollmentResource, LocationResource, StudentResource

pytestmark = pytest.mark.django_db


def import_csv(resource, csv_text: str, **kwargs):
    return resource.import_data(tablib.Dataset().load(csv_text, format="csv"), **kwargs)


def test_student_import_matches_the_email_case_insensitively():
    student = StudentFactory(email="ana.ruiz@example.org", first_name="Ana", last_name="Ruiz")

    result = import_csv(StudentResource(), "email,first_name,last_name\n Ana.Ruiz@Example.org ,Ana,Ruiz-Diaz\n")

    assert [row.import_type for row in result.rows] == ["update"]
    assert Student.objects.get(pk=student.pk).last_name == "Ruiz-Diaz"


def test_student_round_trip_leaves_the_database_unchanged():
    StudentFactory(phone="+1 206 555 0100", emergency_contact_phone="+1 206 555 0101", is_veteran=True)

    result = import_csv(StudentResource(), StudentResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip"]


def test_location_import_without_a_code_always_adds_a_location():
    LocationFactory(code="")
    csv = "code,name,location_type\n,Tacoma Training Center,training_site\n"

    result = import_csv(LocationResource(), csv)

    assert [row.import_type for row in result.rows] == ["new"]
    assert Location.objects.filter(code="").count() == 2


def test_cohort_import_finds_its_location_by_code():
    location = LocationFactory(code="LOC-0042")
    csv = "code,name,status,start_date,location\nIP2A-2027-01,Spring 2027,planned,2027-03-01,LOC-0042\n"

    result = import_csv(CohortResource(), csv)

    assert [row.import_type for row in result.rows] == ["new"]
    assert Cohort.objects.get(code="IP2A-2027-01").location == location


def test_cohort_round_trip_leaves_the_database_unchanged():
    CohortFactory()

    result = import_csv(CohortResource(), CohortResource().export().csv)

    assert [row.import_type for row in result.rows] == ["skip"]


def test_enrollment_resource_is_export_only():
    enrollment = EnrollmentFactory()
    dataset = EnrollmentResource().export()

    assert dataset.dict[0]["student"] == enrollment.student.email
    with pytest.raises(NotImplementedError, match="export-only"):
        EnrollmentResource().import_data(dataset)
