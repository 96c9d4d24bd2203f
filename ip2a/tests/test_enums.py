"""Enumerations hold DOMAIN.md §3: stored values in display order, defaults, human labels, and a database check
on every choice column."""

import re

import pytest
from django.apps import apps
from django.db import connection, models
from pghistory.models import Event

from attachments.models import Attachment, AttachmentCategory
from audit.models import AccessAction, AccessLog, AuditSource, CommandOutcome, CommandRun
from members.models import Member, MemberClassification, MemberStatus
from organizations.models import Organization, OrganizationType, SaltingScore
from training.models import (
    ApplicationStatus,
    Attendance,
    AttendanceStatus,
    Cohort,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    JATCApplication,
    Location,
    LocationType,
    RateType,
)

pytestmark = pytest.mark.django_db

DOMAIN_APPS = {"organizations", "members", "training", "attachments", "audit"}

VALUES = [
    (OrganizationType, ["employer", "union", "training_partner", "jatc"]),
    (MemberStatus, ["active", "inactive", "suspended", "retired", "deceased"]),
    (
        MemberClassification,
        [
            "apprentice_1",
            "apprentice_2",
            "apprentice_3",
            "apprentice_4",
            "apprentice_5",
            "journeyman",
            "foreman",
            "retiree",
            "honorary",
        ],
    ),
    (SaltingScore, [1, 2, 3, 4, 5]),
    (LocationType, ["training_site", "school", "office", "jobsite", "vendor", "other"]),
    (CohortStatus, ["planned", "enrolling", "active", "completed", "cancelled"]),
    (EnrollmentStatus, ["enrolled", "in_progress", "completed", "dropped", "withdrawn", "deferred"]),
    (AttendanceStatus, ["present", "absent", "late", "excused", "early_departure"]),
    (CredentialStatus, ["pending", "active", "expired", "revoked", "renewed"]),
    (
        ApplicationStatus,
        [
            "draft",
            "submitted",
            "under_review",
            "interview_scheduled",
            "interviewed",
            "accepted",
            "rejected",
            "waitlisted",
            "withdrawn",
        ],
    ),
    (RateType, ["hourly", "daily", "flat", "salary"]),
    (AuditSource, ["web", "admin", "import", "repair", "seed", "command", "shell"]),
    (AccessAction, ["view", "export", "download"]),
    (CommandOutcome, ["running", "succeeded", "failed"]),  # DOMAIN.md §9
]

# DOMAIN.md §7: the per-target category sets, Phase 2+ Grievance and BenevolenceApplication included.
CATEGORY_SETS = [
    ["identification", "employment", "certifications", "dues", "grievances", "benevolence", "salting"],
    ["discipline", "correspondence", "general"],
    ["referral", "pay_records", "separation", "correspondence", "general"],
    ["contracts", "correspondence", "salting", "grievances", "general"],
    ["identification", "applications", "certifications", "progress", "attendance", "correspondence", "general"],
    ["applications", "progress", "completion", "correspondence", "general"],
    ["certificate", "wallet_card", "general"],
    ["statements", "evidence", "correspondence", "settlement", "general"],
    ["applications", "supporting_docs", "correspondence", "general"],
]

CHOICE_COLUMNS = {
    (Organization, "org_type"): OrganizationType,
    (Organization, "salting_score"): SaltingScore,
    (Member, "status"): MemberStatus,
    (Member, "classification"): MemberClassification,
    (Instructor, "rate_type"): RateType,
    (Location, "location_type"): LocationType,
    (Cohort, "status"): CohortStatus,
    (Enrollment, "status"): EnrollmentStatus,
    (Attendance, "status"): AttendanceStatus,
    (Credential, "status"): CredentialStatus,
    (JATCApplication, "status"): ApplicationStatus,
    (Attachment, "category"): AttachmentCategory,
    (AccessLog, "action"): AccessAction,
    (CommandRun, "source"): AuditSource,
    (CommandRun, "outcome"): CommandOutcome,
}

DEFAULTS = [
    (Organization, "org_type", None),
    (Organization, "salting_score", None),
    (Member, "status", MemberStatus.ACTIVE),
    (Member, "classification", None),
    (Location, "location_type", LocationType.TRAINING_SITE),
    (Cohort, "status", CohortStatus.PLANNED),
    (Enrollment, "status", EnrollmentStatus.ENROLLED),
    (Attendance, "status", AttendanceStatus.PRESENT),
    (Credential, "status", CredentialStatus.ACTIVE),
    (JATCApplication, "status", ApplicationStatus.DRAFT),
    (Instructor, "rate_type", RateType.HOURLY),
    (Attachment, "category", AttachmentCategory.GENERAL),
]


def domain_choice_columns():
    return {
        (model, field.name)
        for model in apps.get_models()
        if model._meta.app_label in DOMAIN_APPS and not model._meta.proxy and not issubclass(model, Event)
        for field in model._meta.concrete_fields
        if field.choices
    }


def check_definition(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [name])
        [(definition,)] = cursor.fetchall()
    return definition


@pytest.mark.parametrize(("enum", "values"), [pytest.param(*pair, id=pair[0].__name__) for pair in VALUES])
def test_enum_stores_the_domain_values_in_display_order(enum, values):
    assert list(enum.values) == values


def test_attachment_category_is_the_union_of_the_per_target_sets():
    union = {category for categories in CATEGORY_SETS for category in categories}

    assert set(AttachmentCategory.values) == union
    assert len(AttachmentCategory.values) == len(union)


@pytest.mark.parametrize(("model", "field", "default"), DEFAULTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_choice_column_has_the_domain_default(model, field, default):
    column = model._meta.get_field(field)

    assert (column.default if column.has_default() else None) == default


@pytest.mark.parametrize(
    ("enum", "value", "label"),
    [
        (MemberClassification, "apprentice_1", "Apprentice, 1st year"),
        (MemberClassification, "apprentice_2", "Apprentice, 2nd year"),
        (MemberClassification, "apprentice_3", "Apprentice, 3rd year"),
        (MemberClassification, "apprentice_5", "Apprentice, 5th year"),
        (OrganizationType, "jatc", "JATC"),
        (OrganizationType, "training_partner", "Training partner"),
        (EnrollmentStatus, "in_progress", "In progress"),
        (AttendanceStatus, "early_departure", "Early departure"),
        (ApplicationStatus, "interview_scheduled", "Interview scheduled"),
        (LocationType, "training_site", "Training site"),
        (AttachmentCategory, "wallet_card", "Wallet card"),
    ],
)
def test_enum_label_is_the_human_form_of_the_value(enum, value, label):
    assert enum(value).label == label


@pytest.mark.parametrize(
    "enum",
    [enum for enum, _ in VALUES if issubclass(enum, models.TextChoices)] + [AttachmentCategory],
    ids=lambda enum: enum.__name__,
)
def test_every_text_label_reads_as_words(enum):
    for label in enum.labels:
        assert label[0].isupper()
        assert "_" not in label


@pytest.mark.parametrize(
    ("score", "word"), [(1, "Hostile"), (2, "Resistant"), (3, "Neutral"), (4, "Receptive"), (5, "Supportive")]
)
def test_salting_score_label_names_the_receptiveness(score, word):
    assert word in SaltingScore(score).label


def test_every_choice_column_of_the_domain_is_known():
    assert domain_choice_columns() == set(CHOICE_COLUMNS)


@pytest.mark.parametrize(
    ("model", "field"), list(CHOICE_COLUMNS), ids=lambda v: v if isinstance(v, str) else v.__name__
)
def test_choice_column_offers_exactly_its_enum(model, field):
    assert model._meta.get_field(field).choices == CHOICE_COLUMNS[model, field].choices


@pytest.mark.parametrize(
    ("model", "field"), list(CHOICE_COLUMNS), ids=lambda v: v if isinstance(v, str) else v.__name__
)
def test_choice_column_has_a_database_check_listing_the_enum_values(model, field):
    definition = check_definition(f"{model._meta.app_label}_{model._meta.model_name}_{field}_valid")

    array = re.search(r"ARRAY\[(.*?)\]", definition).group(1)
    stored = re.findall(r"'([^']*)'", array) or [int(v) for v in array.split(", ")]
    assert stored == list(CHOICE_COLUMNS[model, field].values)
