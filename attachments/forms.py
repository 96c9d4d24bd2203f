from django import forms
from django.core.exceptions import ValidationError

from attachments.models import CONTENT_TYPES, TARGET_CATEGORIES, Attachment, AttachmentCategory
from attachments.services import attachment_upload


class AttachmentUploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"Allowed types: {', '.join(CONTENT_TYPES)}. At most 50 MB.",
        widget=forms.FileInput(attrs={"accept": ",".join(f".{ext}" for ext in CONTENT_TYPES)}),
    )
    category = forms.ChoiceField(choices=())
    description = forms.CharField(max_length=500, required=False, help_text="Optional.")

    def __init__(self, *args, target, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target, self.user = target, user
        allowed = TARGET_CATEGORIES.get(target._meta.label_lower, [])
        self.fields["category"].choices = [(value, AttachmentCategory(value).label) for value in allowed]
        self.fields["category"].initial = AttachmentCategory.GENERAL

    def save(self) -> Attachment | None:
        """Store the upload through attachment_upload; when a rule refuses it, add the message and return None."""
        try:
            return attachment_upload(
                target=self.target,
                user=self.user,
                uploaded_file=self.cleaned_data["file"],
                category=self.cleaned_data["category"],
                description=self.cleaned_data["description"],
            )
        except ValidationError as exc:
            self.add_error(None, exc.messages)  # the service's fields need not be this form's
            return None
