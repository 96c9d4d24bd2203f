import pghistory
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Upper

from ip2a.models import (
    AddressFields,
    LiveManager,
    SoftDeleteModel,
    SoftDeleteQuerySet,
    choice_constraint,
    constraint_name,
    event_meta,
    not_blank,
)


class OrganizationType(models.TextChoices):
    EMPLOYER = "employer", "Employer"
    UNION = "union", "Union"
    TRAINING_PARTNER = "training_partner", "Training partner"
    JATC = "jatc", "JATC"


class SaltingScore(models.IntegerChoices):
    HOSTILE = 1, "1 — Hostile"
    RESISTANT = 2, "2 — Resistant"
    NEUTRAL = 3, "3 — Neutral"
    RECEPTIVE = 4, "4 — Receptive"
    SUPPORTIVE = 5, "5 — Supportive"


class OrganizationQuerySet(SoftDeleteQuerySet):
    def employers(self):
        return self.filter(org_type=OrganizationType.EMPLOYER)

    def for_list(self):  # everything the list template and the export read
        primary = OrganizationContact.objects.filter(is_primary=True)
        return self.prefetch_related(models.Prefetch("contacts", queryset=primary, to_attr="primary_contacts"))


@pghistory.track(meta=event_meta("org_organization"))
class Organization(SoftDeleteModel, AddressFields):
    """An employer, union, training partner or JATC the Local deals with."""

    name = models.CharField(max_length=255)
    org_type = models.CharField("type", max_length=20, choices=OrganizationType)
    phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    email = models.EmailField(blank=True, default="", db_default="")
    website = models.URLField(blank=True, default="", db_default="")
    salting_score = models.PositiveSmallIntegerField(choices=SaltingScore, null=True, blank=True)
    salting_notes = models.TextField(blank=True, default="", db_default="")
    notes = models.TextField(blank=True, default="", db_default="")

    objects = LiveManager.from_queryset(OrganizationQuerySet)()
    all_objects = models.Manager.from_queryset(OrganizationQuerySet)()

    soft_delete_cascade = ("contacts",)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name", "pk"]
        indexes = [
            models.Index(Upper("name"), name="org_name_upper_idx"),
            models.Index(fields=["org_type"], condition=Q(deleted_at__isnull=True), name="org_type_live_idx"),
        ]
        constraints = [
            not_blank("name"),
            choice_constraint("org_type", OrganizationType),
            choice_constraint("salting_score", SaltingScore),
            models.CheckConstraint(
                condition=Q(salting_score__isnull=True) | Q(org_type=OrganizationType.EMPLOYER),
                name=constraint_name("salting_employer_only"),
                violation_error_message="Only employers can have a salting score.",
            ),
        ]
        permissions = [
            ("change_salting", "Can change the salting score and notes"),
            ("export_organization", "Can export organization lists"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/organizations/{self.pk}/"

    @property
    def is_employer(self) -> bool:
        return self.org_type == OrganizationType.EMPLOYER


@pghistory.track(meta=event_meta("org_contact", owner="organization"))
class OrganizationContact(SoftDeleteModel):
    """A person at an organization; at most one live contact per organization is the primary one."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="contacts")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    title = models.CharField(max_length=100, blank=True, default="", db_default="")
    phone = models.CharField(max_length=30, blank=True, default="", db_default="")
    email = models.EmailField(blank=True, default="", db_default="")
    is_primary = models.BooleanField("primary contact", default=False)
    notes = models.TextField(blank=True, default="", db_default="")

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-is_primary", "last_name", "first_name", "pk"]
        constraints = [
            not_blank("first_name"),
            not_blank("last_name"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(is_primary=True, deleted_at__isnull=True),
                name=constraint_name("one_primary_contact"),
                violation_error_message="This organization already has a primary contact.",
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @transaction.atomic
    def restore(self, *, reason: str) -> None:
        """Bring the contact back; as a non-primary one when its organization has a primary meanwhile."""
        others = OrganizationContact.objects.filter(organization_id=self.organization_id, is_primary=True)
        if self.is_primary and others.exclude(pk=self.pk).exists():
            from audit.history import history_reason

            with history_reason(reason):
                OrganizationContact.all_objects.filter(pk=self.pk).update(is_primary=False)
            self.is_primary = False
        super().restore(reason=reason)
