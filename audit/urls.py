from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.HistoryListView.as_view(), name="history_list"),
    path("access/", views.AccessLogListView.as_view(), name="accesslog_list"),
]
