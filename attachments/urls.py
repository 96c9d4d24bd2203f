from django.urls import path

from attachments import views

app_name = "attachments"

urlpatterns = [
    path(
        "<slug:app_label>/<slug:model>/<int:target_id>/",
        views.AttachmentFilesView.as_view(),
        name="attachment_files",
    ),
    path(
        "<slug:app_label>/<slug:model>/<int:target_id>/new/",
        views.AttachmentUploadView.as_view(),
        name="attachment_upload",
    ),
    path("<int:pk>/download/", views.AttachmentDownloadView.as_view(), name="attachment_download"),
    path("<int:pk>/delete/", views.AttachmentDeleteView.as_view(), name="attachment_delete"),
    path("<int:pk>/restore/", views.AttachmentRestoreView.as_view(), name="attachment_restore"),
]
