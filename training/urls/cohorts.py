from django.urls import path

from training.views import cohorts as views

urlpatterns = [
    path("cohorts/", views.CohortListView.as_view(), name="cohort_list"),
    path("cohorts/new/", views.CohortCreateView.as_view(), name="cohort_create"),
    path("cohorts/<int:pk>/", views.CohortDetailView.as_view(), name="cohort_detail"),
    path("cohorts/<int:pk>/edit/", views.CohortUpdateView.as_view(), name="cohort_update"),
    path("cohorts/<int:pk>/status/", views.CohortStatusView.as_view(), name="cohort_status"),
    path("cohorts/<int:pk>/cancel/", views.CohortCancelView.as_view(), name="cohort_cancel"),
    path("cohorts/<int:pk>/delete/", views.CohortDeleteView.as_view(), name="cohort_delete"),
    path("cohorts/<int:pk>/restore/", views.CohortRestoreView.as_view(), name="cohort_restore"),
    path(
        "cohorts/<int:pk>/instructors/new/",
        views.CohortInstructorCreateView.as_view(),
        name="cohortinstructor_create",
    ),
    path(
        "cohort-instructors/<int:pk>/make-primary/",
        views.CohortInstructorMakePrimaryView.as_view(),
        name="cohortinstructor_make_primary",
    ),
    path(
        "cohort-instructors/<int:pk>/delete/",
        views.CohortInstructorDeleteView.as_view(),
        name="cohortinstructor_delete",
    ),
    path("cohorts/<int:pk>/sessions/new/", views.ClassSessionCreateView.as_view(), name="classsession_create"),
    path("sessions/<int:pk>/", views.ClassSessionDetailView.as_view(), name="classsession_detail"),
    path("sessions/<int:pk>/edit/", views.ClassSessionUpdateView.as_view(), name="classsession_update"),
    path("sessions/<int:pk>/delete/", views.ClassSessionDeleteView.as_view(), name="classsession_delete"),
    path("sessions/<int:pk>/attendance/", views.SessionAttendanceView.as_view(), name="session_attendance"),
    path("instructors/", views.InstructorListView.as_view(), name="instructor_list"),
    path("instructors/new/", views.InstructorCreateView.as_view(), name="instructor_create"),
    path("instructors/<int:pk>/", views.InstructorDetailView.as_view(), name="instructor_detail"),
    path("instructors/<int:pk>/edit/", views.InstructorUpdateView.as_view(), name="instructor_update"),
    path("instructors/<int:pk>/delete/", views.InstructorDeleteView.as_view(), name="instructor_delete"),
    path("instructors/<int:pk>/restore/", views.InstructorRestoreView.as_view(), name="instructor_restore"),
    path("locations/", views.LocationListView.as_view(), name="location_list"),
    path("locations/new/", views.LocationCreateView.as_view(), name="location_create"),
    path("locations/<int:pk>/", views.LocationDetailView.as_view(), name="location_detail"),
    path("locations/<int:pk>/edit/", views.LocationUpdateView.as_view(), name="location_update"),
    path("locations/<int:pk>/delete/", views.LocationDeleteView.as_view(), name="location_delete"),
    path("locations/<int:pk>/restore/", views.LocationRestoreView.as_view(), name="location_restore"),
]
