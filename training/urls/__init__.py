"""The training pages under /training/: one URL list per half of the app, in one namespace."""

from audit.views import record_history_path
from training.models import Cohort, Instructor, Location, Student
from training.urls import cohorts, students

app_name = "training"

urlpatterns = [
    *students.urlpatterns,
    *cohorts.urlpatterns,
    # The history tabs (audit.views.RecordHistoryView): the record merged with its owned rows' events.
    record_history_path("students/<int:pk>/history/", Student, "student_history"),
    record_history_path("cohorts/<int:pk>/history/", Cohort, "cohort_history"),
    record_history_path("instructors/<int:pk>/history/", Instructor, "instructor_history"),
    record_history_path("locations/<int:pk>/history/", Location, "location_history"),
]
