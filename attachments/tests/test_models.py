"""The attachments data layer holds DOMAIN.md §7: every [DB] rule is enforced by PostgreSQL and shown by forms."""

import re
from contextlib import contextmanager

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction

from attachments.factories import AttachmentFactory
from attachments.models import MAX_SIZE, TARGET_CATEGORIES, Attachment, AttachmentCategory
from members.factories import MemberFactory

pytestmark = pytest.mark.django_db


@contextmanager
def violates(constraint_name):
    """Expect the write inside the block to be rejected by exactly this database constraint."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert excinfo.value.__cause__.diag.constraint_name == constraint_name


def constraint(rule):
    [found] = [c for c in Attachment._meta.constraints if c.name == f"attachments_attachment_{rule}"]
    return found


def message(rule):
    return constraint(rule).violation_error_message


def constraint_messages(instance, *, full_clean=True):
    try:
        instance.full_clean() if full_clean else instance.validate_constraints()
    except ValidationError as exc:
        return exc.messages
    return []


# --- Declarations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", Attachment._meta.constraints, ids=lambda c: c.name)
def test_constraint_is_named_by_house_rule_and_declares_a_sentence(rule):
    assert rule.name.startswith("attachments_attachment_")
    assert rule.violation_error_message != rule.default_violation_error_message
    assert rule.violation_error_message[0].isupper()
    assert rule.violation_error_message.endswith(".")


# sha256 needs no separate non-blank check: sha256_format already rejects a blank value.
REQUIRED_TEXT = [
    f.name
    for f in Attachment._meta.concrete_fields
    if isinstance(f, models.CharField) and not f.blank and not f.choices and f.name != "sha256"
]


@pytest.mark.parametrize("field", REQUIRED_TEXT)
def test_required_text_field_has_a_not_blank_check(field):
    assert constraint(f"{field}_not_blank")


@pytest.mark.parametrize(
    ("field", "field_class", "max_length"),
    [
        ("target_id", models.BigIntegerField, None),
        ("original_name", models.CharField, 255),
        ("content_type", models.CharField, 100),
        ("size", models.BigIntegerField, None),
        ("sha256", models.CharField, 64),
        ("description", models.CharField, 500),
    ],
)
def test_field_has_the_domain_type(field, field_class, max_length):
    column = Attachment._meta.get_field(field)

    assert type(column) is field_class
    assert column.max_length == max_length


@pytest.mark.parametrize(
    ("field", "on_delete", "null"), [("target_type", models.PROTECT, False), ("uploaded_by", models.SET_NULL, True)]
)
def test_foreign_key_is_declared_as_in_the_domain(field, on_delete, null):
    relation = Attachment._meta.get_field(field)

    assert relation.remote_field.on_delete is on_delete
    assert relation.null is null


def test_target_index_covers_live_rows_only():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'attachment_target_idx'")
        [(definition,)] = cursor.fetchall()

    assert definition.endswith("USING btree (target_type_id, target_id) WHERE (deleted_at IS NULL)")


def test_target_is_a_generic_foreign_key_to_the_record():
    member = MemberFactory()

    attachment = AttachmentFactory(target_obj=member)

    assert attachment.target_type == ContentType.objects.get_for_model(member)
    assert Attachment.objects.get(pk=attachment.pk).target == member


def test_stored_file_is_named_by_target_year_month_and_random_hex():
    attachment = AttachmentFactory()

    assert re.fullmatch(r"member/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", attachment.file.name)
    assert attachment.file.storage.exists(attachment.file.name)


def test_category_defaults_to_general():
    assert Attachment._meta.get_field("category").default == AttachmentCategory.GENERAL


def test_target_categories_are_the_sets_of_the_domain():
    assert {target: [str(c) for c in categories] for target, categories in TARGET_CATEGORIES.items()} == {
        "members.member": [
            "identification", "employment", "certifications", "dues", "grievances", "benevolence", "salting",
            "discipline", "correspondence", "general",
        ],
        "members.memberemployment": ["referral", "pay_records", "separation", "correspondence", "general"],
        "organizations.organization": ["contracts", "correspondence", "salting", "grievances", "general"],
        "training.student": [
            "identification", "applications", "certifications", "progress", "attendance", "correspondence", "general",
        ],
        "training.enrollment": ["applications", "progress", "completion", "correspondence", "general"],
        "training.credential": ["certificate", "wallet_card", "general"],
    }  # fmt: skip


# --- Size ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1, MAX_SIZE + 1])
def test_size_outside_one_byte_to_50_mb_is_rejected_by_the_database(size):
    attachment = AttachmentFactory()

    with violates("attachments_attachment_size_range"):
        Attachment.objects.filter(pk=attachment.pk).update(size=size)


@pytest.mark.parametrize("size", [0, MAX_SIZE + 1])
def test_size_outside_one_byte_to_50_mb_shows_the_message(size):
    attachment = AttachmentFactory()
    attachment.size = size

    assert message("size_range") in constraint_messages(attachment)


@pytest.mark.parametrize("size", [1, 52_428_800])
def test_size_at_the_bounds_is_accepted(size):
    attachment = AttachmentFactory()

    Attachment.objects.filter(pk=attachment.pk).update(size=size)

    assert Attachment.objects.get(pk=attachment.pk).size == size


# --- SHA-256 ---------------------------------------------------------------------------------------------

BAD_SHA256 = ["A" * 64, "0" * 63, "g" * 64, ""]


@pytest.mark.parametrize("sha256", BAD_SHA256, ids=["upper-case", "63-chars", "not-hex", "blank"])
def test_malformed_sha256_is_rejected_by_the_database(sha256):
    attachment = AttachmentFactory()

    with violates("attachments_attachment_sha256_format"):
        Attachment.objects.filter(pk=attachment.pk).update(sha256=sha256)


@pytest.mark.parametrize("sha256", BAD_SHA256[:3], ids=["upper-case", "63-chars", "not-hex"])
def test_malformed_sha256_shows_the_message(sha256):
    attachment = AttachmentFactory()
    attachment.sha256 = sha256

    assert message("sha256_format") in constraint_messages(attachment)


# --- Category and name -----------------------------------------------------------------------------------


def test_unknown_category_is_rejected_by_the_database():
    attachment = AttachmentFactory()

    with violates("attachments_attachment_category_valid"):
        Attachment.objects.filter(pk=attachment.pk).update(category="receipts")


def test_unknown_category_shows_the_message():
    attachment = AttachmentFactory()
    attachment.category = "receipts"

    assert message("category_valid") in constraint_messages(attachment, full_clean=False)


@pytest.mark.parametrize("category", AttachmentCategory.values)
def test_every_category_is_accepted_by_the_database(category):
    attachment = AttachmentFactory()

    Attachment.objects.filter(pk=attachment.pk).update(category=category)

    assert Attachment.objects.get(pk=attachment.pk).category == category


def test_blank_original_name_is_rejected_by_the_database():
    attachment = AttachmentFactory()

    with violates("attachments_attachment_original_name_not_blank"):
        Attachment.objects.filter(pk=attachment.pk).update(original_name="  ")


def test_blank_original_name_shows_the_message():
    attachment = AttachmentFactory()
    attachment.original_name = "  "

    assert message("original_name_not_blank") in constraint_messages(attachment)
