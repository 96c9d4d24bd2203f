"""Import/export columns of the training program: people and places are importable, workflow rows export-only."""

from import_export import fields

from ip2a.resources import ExportOnlyResource, LookupWidget, LowerCaseWidget, SafeModelResource
from training.models import (
    Attendance,
    ClassSession,
    Cohort,
    CohortInstructor,
    Credential,
    Enrollment,
    Instructor,
    JATCApplication,
    Location,
    Student,
)

ADDRESS = ["address_line1", "address_line2", "city", "state", "postal_code"]


class StudentResource(SafeModelResource):
    email = fields.Field(attribute="email", column_name="email", widget=LowerCaseWidget())

    class Meta:
        model = Student
        fields = [
            "email",
            "first_name",
            "middle_name",
            "last_name",
            "phone",
            "date_of_birth",
            *ADDRESS,
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relation",
            "is_veteran",
            "referral_source",
            "shirt_size",
            "shoe_size",
            "notes",
        ]
        import_id_fields = ["email"]


class InstructorResource(SafeModelResource):
    email = fields.Field(attribute="email", column_name="email", widget=LowerCaseWidget())

    class Meta:
        model = Instructor
        fields = [
            "email",
            "first_name",
            "last_name",
            "phone",
            "bio",
            "certifications",
            "specialties",
            "rate_type",
            "rate_amount",
            "is_contractor_1099",
            "is_active",
        ]
        import_id_fields = ["email"]


class LocationResource(SafeModelResource):
    """Rows are matched by code; a row without a code is always a new location."""

    class Meta:
        model = Location
        fields = [
            "code",
            "name",
            "location_type",
            *ADDRESS,
            "capacity",
            "contact_name",
            "contact_phone",
            "contact_email",
            "notes",
        ]
        import_id_fields = ["code"]


class CohortResource(SafeModelResource):
    """Rows are matched by code; ``location`` is the location's code."""

    location = fields.Field(attribute="location", column_name="location", widget=LookupWidget(Location, field="code"))

    class Meta:
        model = Cohort
        fields = ["code", "name", "description", "status", "start_date", "end_date", "max_students", "location"]
        import_id_fields = ["code"]

    def get_queryset(self):
        return super().get_queryset().select_related("location")


class CohortInstructorResource(ExportOnlyResource):
    cohort = fields.Field(attribute="cohort__code", column_name="cohort")
    instructor = fields.Field(attribute="instructor__email", column_name="instructor")

    class Meta:
        model = CohortInstructor
        fields = ["id", "cohort", "instructor", "is_primary"]


class ClassSessionResource(ExportOnlyResource):
    cohort = fields.Field(attribute="cohort__code", column_name="cohort")
    instructor = fields.Field(attribute="instructor__email", column_name="instructor")
    location = fields.Field(attribute="location__code", column_name="location")

    class Meta:
        model = ClassSession
        fields = [
            "id",
            "cohort",
            "date",
            "start_time",
            "end_time",
            "instructor",
            "location",
            "topic",
            "is_cancelled",
            "notes",
        ]


class EnrollmentResource(ExportOnlyResource):
    student = fields.Field(attribute="student__email", column_name="student")
    cohort = fields.Field(attribute="cohort__code", column_name="cohort")

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "student",
            "cohort",
            "status",
            "enrolled_on",
            "status_changed_on",
            "completed_on",
            "final_grade",
            "notes",
        ]


class AttendanceResource(ExportOnlyResource):
    student = fields.Field(attribute="student__email", column_name="student")
    cohort = fields.Field(attribute="session__cohort__code", column_name="cohort")
    date = fields.Field(attribute="session__date", column_name="date")

    class Meta:
        model = Attendance
        fields = ["id", "cohort", "date", "student", "status", "minutes_late", "notes"]


class CredentialResource(ExportOnlyResource):
    student = fields.Field(attribute="student__email", column_name="student")

    class Meta:
        model = Credential
        fields = [
            "id",
            "student",
            "name",
            "issuing_org",
            "certificate_number",
            "issue_date",
            "expiration_date",
            "status",
            "replaces",
            "notes",
        ]


class JATCApplicationResource(ExportOnlyResource):
    student = fields.Field(attribute="student__email", column_name="student")

    class Meta:
        model = JATCApplication
        fields = [
            "id",
            "student",
            "application_date",
            "status",
            "interview_date",
            "decision_date",
            "interview_score",
            "aptitude_score",
            "trade_preference",
            "notes",
        ]
