from django.urls import path

from training.views import students as views
from training.views.students import ENROLLMENT_VERBS

urlpatterns = [
    path("students/", views.StudentListView.as_view(), name="student_list"),
    path("students/new/", views.StudentCreateView.as_view(), name="student_create"),
    path("students/<int:pk>/", views.StudentDetailView.as_view(), name="student_detail"),
    path("students/<int:pk>/edit/", views.StudentUpdateView.as_view(), name="student_update"),
    path("students/<int:pk>/delete/", views.StudentDeleteView.as_view(), name="student_delete"),
    path("students/<int:pk>/restore/", views.StudentRestoreView.as_view(), name="student_restore"),
    path("students/<int:pk>/convert/", views.StudentConvertView.as_view(), name="student_convert"),
    path("students/<int:pk>/enrollments/new/", views.EnrollmentCreateView.as_view(), name="enrollment_create"),
    path("enrollments/<int:pk>/edit/", views.EnrollmentUpdateView.as_view(), name="enrollment_update"),
    *(
        path(f"enrollments/<int:pk>/{verb}/", views.EnrollmentStatusView.as_view(verb=verb), name=f"enrollment_{verb}")
        for verb in ENROLLMENT_VERBS
    ),
    path("enrollments/<int:pk>/delete/", views.EnrollmentDeleteView.as_view(), name="enrollment_delete"),
    path("students/<int:pk>/credentials/new/", views.CredentialCreateView.as_view(), name="credential_create"),
    path("credentials/expiring/", views.CredentialExpiringView.as_view(), name="credential_expiring"),
    path("credentials/<int:pk>/edit/", views.CredentialUpdateView.as_view(), name="credential_update"),
    path("credentials/<int:pk>/renew/", views.CredentialRenewView.as_view(), name="credential_renew"),
    path("credentials/<int:pk>/delete/", views.CredentialDeleteView.as_view(), name="credential_delete"),
    path("applications/", views.JATCApplicationListView.as_view(), name="jatcapplication_list"),
    path(
        "students/<int:pk>/applications/new/",
        views.JATCApplicationCreateView.as_view(),
        name="jatcapplication_create",
    ),
    path("applications/<int:pk>/edit/", views.JATCApplicationUpdateView.as_view(), name="jatcapplication_update"),
    path("applications/<int:pk>/advance/", views.JATCApplicationAdvanceView.as_view(), name="jatcapplication_advance"),
    path("applications/<int:pk>/delete/", views.JATCApplicationDeleteView.as_view(), name="jatcapplication_delete"),
]
