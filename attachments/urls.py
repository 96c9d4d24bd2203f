from django.urls import path

from attachments import views

app_name = "attachments"

urlpatterns = [
    path("<int:pk>/download/", views.AttachmentDownloadView.as_view(), name="attachment_download"),
]
