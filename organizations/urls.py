from django.urls import path

from audit.views import record_history_path
from organizations import views
from organizations.models import Organization

app_name = "organizations"

urlpatterns = [
    path("", views.OrganizationListView.as_view(), name="organization_list"),
    path("new/", views.OrganizationCreateView.as_view(), name="organization_create"),
    path("<int:pk>/", views.OrganizationDetailView.as_view(), name="organization_detail"),
    path("<int:pk>/edit/", views.OrganizationUpdateView.as_view(), name="organization_update"),
    path("<int:pk>/salting/", views.OrganizationSaltingView.as_view(), name="organization_salting"),
    path("<int:pk>/delete/", views.OrganizationDeleteView.as_view(), name="organization_delete"),
    path("<int:pk>/restore/", views.OrganizationRestoreView.as_view(), name="organization_restore"),
    record_history_path("<int:pk>/history/", Organization, "organization_history"),
    path("<int:pk>/contacts/new/", views.OrganizationContactCreateView.as_view(), name="contact_create"),
    path("contacts/", views.OrganizationContactListView.as_view(), name="contact_list"),
    path("contacts/<int:pk>/edit/", views.OrganizationContactUpdateView.as_view(), name="contact_update"),
    path(
        "contacts/<int:pk>/make-primary/",
        views.OrganizationContactMakePrimaryView.as_view(),
        name="contact_make_primary",
    ),
    path("contacts/<int:pk>/delete/", views.OrganizationContactDeleteView.as_view(), name="contact_delete"),
    path("contacts/<int:pk>/restore/", views.OrganizationContactRestoreView.as_view(), name="contact_restore"),
]
