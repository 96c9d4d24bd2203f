import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from attachments.factories import PDF_BYTES
from attachments.forms import AttachmentUploadForm
from attachments.models import Attachment
from organizations.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def upload_form(target, name="contract.pdf", content=PDF_BYTES, category="contracts", user=None):
    files = {"file": SimpleUploadedFile(name, content, content_type="application/pdf")}
    return AttachmentUploadForm({"category": category, "description": "Signed"}, files, target=target, user=user)


def test_attachment_upload_form_offers_only_the_targets_categories():
    form = AttachmentUploadForm(target=OrganizationFactory())

    assert [value for value, _ in form.fields["category"].choices] == [
        "contracts",
        "correspondence",
        "salting",
        "grievances",
        "general",
    ]


def test_attachment_upload_form_saves_through_the_upload_rules(make_user):
    organization, user = OrganizationFactory(), make_user("organizer")
    form = upload_form(organization, user=user)

    assert form.is_valid()
    attachment = form.save()
    assert (attachment.target, attachment.category, attachment.description) == (organization, "contracts", "Signed")
    assert attachment.uploaded_by == user


def test_attachment_upload_form_rejects_a_category_of_another_target():
    form = upload_form(OrganizationFactory(), category="dues")

    assert form.errors["category"] == ["Select a valid choice. dues is not one of the available choices."]


def test_attachment_upload_form_shows_a_broken_upload_rule_as_a_form_error():
    form = upload_form(OrganizationFactory(), name="contract.pdf", content=b"<html>")

    assert form.is_valid()
    assert (form.save(), form.non_field_errors()) == (None, ["The file's content is not a valid PDF file."])
    assert Attachment.all_objects.count() == 0
