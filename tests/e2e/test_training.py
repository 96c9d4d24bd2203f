"""Training pages: the attendance sheet of a session, and cancelling a cohort."""

import re

import pytest
from playwright.sync_api import expect

from training.factories import ClassSessionFactory, CohortFactory, EnrollmentFactory
from training.models import Attendance, AttendanceStatus, CohortStatus, Enrollment, EnrollmentStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_attendance_sheet_saves_one_status_per_student(staff_page):
    page = staff_page
    session = ClassSessionFactory(date="2026-09-01")
    for first, last in [("Ana", "Adams"), ("Ben", "Brown"), ("Cy", "Cole")]:
        EnrollmentFactory(cohort=session.cohort, student__first_name=first, student__last_name=last)
    main = page.get_by_role("main")

    page.goto(f"/training/sessions/{session.pk}/")
    page.get_by_role("link", name="Take attendance").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Attendance: 2026-09-01")
    expect(main.get_by_label("Status of Ana Adams")).to_have_value("present")
    main.get_by_label("Status of Ben Brown").select_option(label="Late")
    main.get_by_label("Minutes late for Ben Brown").fill("10")
    main.get_by_label("Status of Cy Cole").select_option(label="Absent")
    main.get_by_label("Minutes late for Ana Adams").fill("5")  # Ana is present: refused
    main.get_by_role("button", name="Save attendance").click()

    expect(page.locator(".attendance-sheet .errorlist")).to_have_text("Minutes late only for a late mark.")
    expect(main.get_by_label("Status of Cy Cole")).to_have_value("absent")
    assert not Attendance.objects.exists()
    main.get_by_label("Minutes late for Ana Adams").fill("")
    main.get_by_role("button", name="Save attendance").click()

    expect(page).to_have_url(re.compile(rf"/training/sessions/{session.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("3 new, 0 changed, 0 unchanged")
    marks = page.get_by_role("region", name="Attendance").locator("tbody tr")
    expect(marks).to_have_text(
        [re.compile(r"Ana Adams\s+Present"), re.compile(r"Ben Brown\s+Late\s+10"), re.compile(r"Cy Cole\s+Absent")]
    )
    assert sorted(Attendance.objects.values_list("student__last_name", "status", "minutes_late")) == [
        ("Adams", AttendanceStatus.PRESENT, None),
        ("Brown", AttendanceStatus.LATE, 10),
        ("Cole", AttendanceStatus.ABSENT, None),
    ]


def test_cancelling_a_cohort_defers_its_open_enrollments(staff_page):
    page = staff_page
    cohort = CohortFactory(name="Fall evening", status=CohortStatus.ACTIVE)
    EnrollmentFactory(cohort=cohort, student__first_name="Ana", student__last_name="Adams")
    EnrollmentFactory(
        cohort=cohort, student__first_name="Ben", student__last_name="Brown", status=EnrollmentStatus.IN_PROGRESS
    )
    EnrollmentFactory(
        cohort=cohort, student__first_name="Cy", student__last_name="Cole", status=EnrollmentStatus.DROPPED
    )
    roster = page.get_by_role("region", name="Roster").locator("tbody tr")

    page.goto(f"/training/cohorts/{cohort.pk}/")
    page.get_by_role("link", name="Cancel cohort").click()
    expect(page.get_by_role("main")).to_contain_text("The 2 enrolled and in-progress enrollments of this cohort")
    page.get_by_role("main").get_by_label("Reason").fill("Too few students")
    page.get_by_role("button", name="Cancel cohort").click()

    expect(page).to_have_url(re.compile(rf"/training/cohorts/{cohort.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("2 enrollment(s) deferred")
    expect(page.get_by_role("region", name="Details")).to_contain_text("Cancelled")
    expect(page.get_by_role("link", name="Cancel cohort")).to_have_count(0)
    expect(roster.filter(has_text="Ana Adams")).to_contain_text("Deferred")
    expect(roster.filter(has_text="Ben Brown")).to_contain_text("Deferred")
    expect(roster.filter(has_text="Cy Cole")).to_contain_text("Dropped")
    assert sorted(Enrollment.objects.values_list("student__last_name", "status")) == [
        ("Adams", EnrollmentStatus.DEFERRED),
        ("Brown", EnrollmentStatus.DEFERRED),
        ("Cole", EnrollmentStatus.DROPPED),
    ]
