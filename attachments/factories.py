import hashlib

import factory
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from factory.django import DjangoModelFactory

from attachments.models import Attachment, AttachmentCategory
from members.factories import MemberFactory

PDF_BYTES = b"%PDF-1.4\n% IP2A test document\n%%EOF\n"


class AttachmentFactory(DjangoModelFactory):
    """A small PDF stored for real in the attachments storage, attached to a member by default."""

    class Meta:
        model = Attachment
        exclude = ["target_obj", "content"]

    target_obj = factory.SubFactory(MemberFactory)
    content = PDF_BYTES
    target_type = factory.LazyAttribute(lambda a: ContentType.objects.get_for_model(a.target_obj))
    target_id = factory.LazyAttribute(lambda a: a.target_obj.pk)
    file = factory.LazyAttribute(lambda a: ContentFile(a.content, name="document.pdf"))
    original_name = "document.pdf"
    content_type = "application/pdf"
    size = factory.LazyAttribute(lambda a: len(a.content))
    sha256 = factory.LazyAttribute(lambda a: hashlib.sha256(a.content).hexdigest())
    category = AttachmentCategory.GENERAL
