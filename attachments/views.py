import logging

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views import View

from attachments.models import Attachment
from attachments.services import attachment_can_download
from audit.access import log_access

logger = logging.getLogger(__name__)


class AttachmentDownloadView(View):
    """Stream one stored file to a user allowed to download it, and log the download."""

    http_method_names = ["get"]

    def get(self, request, pk):
        attachment = get_object_or_404(Attachment.all_objects.select_related("target_type"), pk=pk)
        if not attachment_can_download(request.user, attachment):
            raise PermissionDenied
        try:
            stored = attachment.file.storage.open(attachment.file.name, "rb")
        except FileNotFoundError:
            logger.warning("Attachment %s: its stored file %s is missing.", attachment.pk, attachment.file.name)
            raise Http404("The file of this attachment is missing.") from None
        log_access(request, action="download", obj=attachment)
        response = FileResponse(
            stored, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
