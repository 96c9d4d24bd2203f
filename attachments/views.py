import logging

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View
from django.views.generic import FormView

from attachments.forms import AttachmentUploadForm
from attachments.models import TARGET_CATEGORIES, Attachment
from attachments.services import (
    TARGET_PARENTS,
    attachment_can_delete,
    attachment_can_download,
    attachment_can_upload,
    attachment_can_view,
    target_is_deleted,
)
from attachments.storage import is_bucket, open_stream, signed_download_url, storage_errors
from audit.access import log_access
from ip2a.views import RestoreView, SoftDeleteView

logger = logging.getLogger(__name__)


def target_page_url(target) -> str:
    """The page that shows a target's attachments: its own page, or for a row without one (an employment, an
    enrollment, a credential) the files page of that row."""
    if target is None:
        return reverse("dashboard")
    if hasattr(target, "get_absolute_url"):
        return target.get_absolute_url()
    meta = target._meta
    return reverse("attachments:attachment_files", args=[meta.app_label, meta.model_name, target.pk])


def parent_page_url(target) -> str:
    """The page of the record an owned row belongs to (an employment's member, a credential's student)."""
    parent_field = TARGET_PARENTS.get(target._meta.label_lower)
    parent = getattr(target, parent_field) if parent_field else None
    return parent.get_absolute_url() if hasattr(parent, "get_absolute_url") else reverse("dashboard")


class AttachmentFilesView(View):
    """The files of a row that has no page of its own (an employment, an enrollment, a credential): the
    attachments panel under the row's name, with the way back to its member or student. Rows with a page of
    their own redirect there."""

    def get(self, request, app_label, model, target_id):
        label = f"{app_label}.{model}"
        if label not in TARGET_CATEGORIES:
            raise Http404("Files cannot be attached to this kind of record.")
        target = get_object_or_404(apps.get_model(app_label, model)._base_manager, pk=target_id)
        if hasattr(target, "get_absolute_url"):
            return HttpResponseRedirect(target.get_absolute_url())
        if not attachment_can_view(request.user, target):
            raise PermissionDenied("Your role may not see the files of this record.")
        context = {"target": target, "target_name": target._meta.verbose_name, "parent_url": parent_page_url(target)}
        return render(request, "attachments/attachment_files.html", context)


class AttachmentDownloadView(View):
    """Send one stored file to a user allowed to download it, and log the download: streamed through the app,
    or for a bucket with ATTACHMENTS_S3_SIGNED_URL_SECONDS set, a redirect to a URL signed for that long."""

    http_method_names = ["get"]
    block_size = 256 * 1024  # bytes read from the storage (and sent) at a time

    def get(self, request, pk):
        attachment = get_object_or_404(Attachment.all_objects.select_related("target_type"), pk=pk)
        if not attachment_can_download(request.user, attachment):
            raise PermissionDenied
        storage, name = attachment.file.storage, attachment.file.name
        seconds = settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS if is_bucket(storage) else 0
        try:
            if seconds:
                # A URL gets signed whether or not its object exists: ask first, so a missing file is our 404.
                if not storage.exists(name):
                    raise FileNotFoundError(name)
                # Whoever holds the URL can download the file until it expires; the access is logged now.
                url = signed_download_url(
                    storage,
                    name,
                    filename=attachment.original_name,
                    content_type=attachment.content_type,
                    seconds=seconds,
                )
                response = HttpResponseRedirect(url)
            else:
                stored, size = open_stream(storage, name)
                response = FileResponse(
                    stored, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
                )
                response.block_size = self.block_size
                response["Content-Length"] = size
        except FileNotFoundError:
            logger.warning("Attachment %s: its stored file %s is missing.", attachment.pk, name)
            raise Http404("The file of this attachment is missing.") from None
        except storage_errors(storage) as exc:  # evaluated only when something else was raised
            # The store refused or did not answer (a bucket's 403, an endpoint down, an unreadable disk): say so,
            # log nothing as downloaded.
            logger.error("Attachment %s: the storage failed to send %s: %s", attachment.pk, name, exc)
            response = HttpResponse(
                "The file store did not answer. Try again in a minute; if it goes on, tell an administrator.",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = "60"
            return response
        log_access(request, action="download", obj=attachment)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class AttachmentUploadView(PermissionRequiredMixin, FormView):
    """Attach a file to one live record, under the upload rules; a refused file is a 400 naming the rule."""

    permission_required = "attachments.add_attachment"
    form_class = AttachmentUploadForm
    template_name = "attachments/attachment_upload.html"

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        self.target = self.get_target()
        if not attachment_can_upload(request.user, self.target):
            raise PermissionDenied("Your role may not attach files to this record.")
        return super().dispatch(request, *args, **kwargs)

    def get_target(self):
        """The live record named by the URL; 404 for a model that takes no attachments or a deleted record."""
        app_label, model_name = self.kwargs["app_label"], self.kwargs["model"]
        if f"{app_label}.{model_name}" not in TARGET_CATEGORIES:
            raise Http404("Files cannot be attached to this kind of record.")
        model = apps.get_model(app_label, model_name)
        target = get_object_or_404(model._default_manager, pk=self.kwargs["target_id"])
        if target_is_deleted(target):
            raise Http404("This record has been deleted.")
        return target

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "target": self.target, "user": self.request.user}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            target=self.target,
            target_name=self.target._meta.verbose_name,
            cancel_url=target_page_url(self.target),
            **kwargs,
        )

    def form_valid(self, form):
        attachment = form.save()
        if attachment is None:  # an upload rule refused the file; the form carries its message
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Attached “{attachment.original_name}” to {self.target._meta.verbose_name} “{self.target}”.",
        )
        return HttpResponseRedirect(target_page_url(self.target))

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class AttachmentActionMixin:
    """Soft delete and restore: the delete permission plus the target rules; back to the target's page."""

    model = Attachment
    permission_required = "attachments.delete_attachment"

    def get_object(self):
        attachment = super().get_object()
        if not attachment_can_delete(self.request.user, attachment):
            raise PermissionDenied("Your role may not delete or restore the files of this record.")
        return attachment

    def get_success_url(self):
        return target_page_url(self.object.target)

    def get_context_data(self, **kwargs):
        return super().get_context_data(cancel_url=self.get_success_url(), **kwargs)


class AttachmentDeleteView(AttachmentActionMixin, SoftDeleteView):
    template_name = "attachments/attachment_delete.html"


class AttachmentRestoreView(AttachmentActionMixin, RestoreView):
    template_name = "attachments/attachment_restore.html"
