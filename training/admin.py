from django.contrib import admin

from ip2a.admin import HistoryAdmin, LargeTableMixin, OwnedRowAdmin, SoftDeleteAdmin
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
from training.resources import (
    AttendanceResource,
    ClassSessionResource,
    CohortInstructorResource,
    CohortResource,
    CredentialResource,
    EnrollmentResource,
    InstructorResource,
    JATCApplicationResource,
    LocationResource,
    StudentResource,
)
from training.services.cohorts import cohort_soft_delete, instructor_soft_delete, location_soft_delete


@admin.register(Student)
class StudentAdmin(SoftDeleteAdmin):
    list_display = ("last_name", "first_name", "email", "phone", "city", "is_veteran")
    list_filter = ("is_veteran",)
    search_fields = ("^last_name", "^first_name", "email")
    resource_classes = [StudentResource]
    export_permission = "training.export_student"


@admin.register(Instructor)
class InstructorAdmin(SoftDeleteAdmin):
    list_display = ("last_name", "first_name", "email", "phone", "rate_type", "is_active", "is_contractor_1099")
    list_filter = ("is_active", "rate_type", "is_contractor_1099")
    search_fields = ("^last_name", "^first_name", "email")
    autocomplete_fields = ("user",)
    resource_classes = [InstructorResource]
    export_permission = "training.export_student"

    def soft_delete_object(self, request, obj, reason):
        instructor_soft_delete(instructor=obj, reason=reason)  # refused while a running cohort needs them


@admin.register(Location)
class LocationAdmin(SoftDeleteAdmin):
    list_display = ("name", "code", "location_type", "city", "capacity")
    list_filter = ("location_type",)
    search_fields = ("name", "code")
    resource_classes = [LocationResource]
    export_permission = "training.export_student"

    def soft_delete_object(self, request, obj, reason):
        location_soft_delete(location=obj, reason=reason)  # refused while a running cohort meets there


@admin.register(Cohort)
class CohortAdmin(SoftDeleteAdmin):
    list_display = ("name", "code", "status", "start_date", "end_date", "location", "max_students")
    list_filter = ("status",)
    list_select_related = ("location",)
    search_fields = ("name", "code")
    autocomplete_fields = ("location",)
    resource_classes = [CohortResource]
    export_permission = "training.export_student"

    def soft_delete_object(self, request, obj, reason):
        cohort_soft_delete(cohort=obj, reason=reason)  # refused while it has open enrollments


@admin.register(CohortInstructor)
class CohortInstructorAdmin(OwnedRowAdmin):
    list_display = ("cohort", "instructor", "is_primary")
    list_filter = ("is_primary",)
    list_select_related = ("cohort", "instructor")
    search_fields = ("cohort__code", "cohort__name", "^instructor__last_name")
    autocomplete_fields = ("cohort", "instructor")
    str_select_related = ("cohort", "instructor")
    resource_classes = [CohortInstructorResource]
    export_permission = "training.export_student"


@admin.register(ClassSession)
class ClassSessionAdmin(OwnedRowAdmin):
    list_display = ("cohort", "date", "start_time", "end_time", "instructor", "location", "topic", "is_cancelled")
    list_filter = ("is_cancelled",)
    list_select_related = ("cohort", "instructor", "location")
    search_fields = ("cohort__code", "cohort__name", "topic")
    autocomplete_fields = ("cohort", "instructor", "location")
    str_select_related = ("cohort",)
    resource_classes = [ClassSessionResource]
    export_permission = "training.export_student"


@admin.register(Enrollment)
class EnrollmentAdmin(OwnedRowAdmin):
    list_display = ("student", "cohort", "status", "enrolled_on", "completed_on", "final_grade")
    list_filter = ("status",)
    list_select_related = ("student", "cohort")
    search_fields = ("^student__last_name", "student__email", "cohort__code")
    autocomplete_fields = ("student", "cohort")
    str_select_related = ("student", "cohort")
    resource_classes = [EnrollmentResource]
    export_permission = "training.export_student"


@admin.register(Attendance)
class AttendanceAdmin(LargeTableMixin, OwnedRowAdmin):
    list_display = ("session", "student", "status", "minutes_late")
    list_filter = ("status",)
    list_select_related = ("session__cohort", "student")
    search_fields = ("^student__last_name", "student__email", "session__cohort__code")
    autocomplete_fields = ("session", "student")
    ordering = ("-pk",)
    str_select_related = ("session__cohort", "student")
    resource_classes = [AttendanceResource]
    export_permission = "training.export_student"


@admin.register(Credential)
class CredentialAdmin(OwnedRowAdmin):
    list_display = ("name", "student", "certificate_number", "issue_date", "expiration_date", "status")
    list_filter = ("status",)
    list_select_related = ("student",)
    search_fields = ("name", "certificate_number", "^student__last_name", "student__email")
    autocomplete_fields = ("student", "replaces")
    str_select_related = ("student",)
    resource_classes = [CredentialResource]
    export_permission = "training.export_student"


@admin.register(JATCApplication)
class JATCApplicationAdmin(OwnedRowAdmin):
    list_display = ("student", "application_date", "status", "interview_date", "decision_date", "trade_preference")
    list_filter = ("status",)
    list_select_related = ("student",)
    search_fields = ("^student__last_name", "student__email", "trade_preference")
    autocomplete_fields = ("student",)
    str_select_related = ("student",)
    resource_classes = [JATCApplicationResource]
    export_permission = "training.export_student"


for model in (Student, Instructor, Location, Cohort):
    admin.site.register(model.pgh_event_model, HistoryAdmin)


@admin.register(CohortInstructor.pgh_event_model)
class CohortInstructorEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__cohort", "pgh_obj__instructor")


@admin.register(ClassSession.pgh_event_model)
class ClassSessionEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__cohort",)


@admin.register(Enrollment.pgh_event_model)
class EnrollmentEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__student", "pgh_obj__cohort")


@admin.register(Attendance.pgh_event_model)
class AttendanceEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__student", "pgh_obj__session__cohort")


@admin.register(Credential.pgh_event_model, JATCApplication.pgh_event_model)
class StudentRecordEventAdmin(HistoryAdmin):
    list_prefetch_related = ("pgh_obj__student",)
