from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ip2a import views
from ip2a.dashboard import DashboardView
from ip2a.imports import ImportView
from ip2a.search import SearchView
from ip2a.throttle import ThrottledLoginView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("search/", SearchView.as_view(), name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", ThrottledLoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # One login page for the portal and the admin (one place for throttling and logging).
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("members/import/", ImportView.as_view(kind="members"), name="members_import"),
    path("members/employments/import/", ImportView.as_view(kind="employments"), name="employments_import"),
    path("organizations/import/", ImportView.as_view(kind="organizations"), name="organizations_import"),
    path("organizations/contacts/import/", ImportView.as_view(kind="contacts"), name="contacts_import"),
    path("training/students/import/", ImportView.as_view(kind="students"), name="training_students_import"),
    path("members/", include("members.urls")),
    path("organizations/", include("organizations.urls")),
    path("training/", include("training.urls")),
    path("audit/", include("audit.urls")),
    path("attachments/", include("attachments.urls")),
]
