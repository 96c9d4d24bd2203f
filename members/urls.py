from django.urls import path

from audit.views import record_history_path
from members import views
from members.models import Member

app_name = "members"

urlpatterns = [
    path("", views.MemberListView.as_view(), name="member_list"),
    path("new/", views.MemberCreateView.as_view(), name="member_create"),
    path("<int:pk>/", views.MemberDetailView.as_view(), name="member_detail"),
    path("<int:pk>/edit/", views.MemberUpdateView.as_view(), name="member_update"),
    path("<int:pk>/status/", views.MemberStatusView.as_view(), name="member_status"),
    path("<int:pk>/delete/", views.MemberDeleteView.as_view(), name="member_delete"),
    path("<int:pk>/restore/", views.MemberRestoreView.as_view(), name="member_restore"),
    record_history_path("<int:pk>/history/", Member, "member_history"),
    path("<int:pk>/employments/new/", views.EmploymentCreateView.as_view(), name="employment_create"),
    path("employments/<int:pk>/edit/", views.EmploymentUpdateView.as_view(), name="employment_update"),
    path("employments/<int:pk>/end/", views.EmploymentEndView.as_view(), name="employment_end"),
    path("employments/<int:pk>/delete/", views.EmploymentDeleteView.as_view(), name="employment_delete"),
]
