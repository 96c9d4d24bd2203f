"""Soft delete, owned hard rows, timestamps and save-time normalisation (DOMAIN.md §2)."""

import datetime
from unittest import mock

import pytest
from django.apps import apps
from django.db import connection, models
from django.utils import timezone

from attachments.factories import AttachmentFactory
from attachments.models import Attachment
from ip2a.models import OwnedModel, SoftDeleteModel
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment
from organizations.factories import OrganizationContactFactory, OrganizationFactory
from organizations.models import Organization, OrganizationContact
from training.factories import (
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    LocationFactory,
    StudentFactory,
)
from training.models import CohortInstructor

pytestmark = pytest.mark.django_db

SOFT_DELETE_FACTORIES = [
    OrganizationFactory,
    OrganizationContactFactory,
    MemberFactory,
    StudentFactory,
    InstructorFactory,
    LocationFactory,
    CohortFactory,
    AttachmentFactory,
]
# Owned hard rows that can carry attachments (DOMAIN.md §7).
OWNED_TARGET_FACTORIES = [MemberEmploymentFactory, EnrollmentFactory, CredentialFactory]
LONG_AGO = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)


def model_names(base):
    return {
        model._meta.label
        for model in apps.get_models()
        if issubclass(model, base) and not model._meta.abstract and not model._meta.proxy
    }


def factory_id(factory):
    return factory._meta.model.__name__


# --- Which models ----------------------------------------------------------------------------------------


def test_soft_delete_applies_to_exactly_the_domain_models():
    assert model_names(SoftDeleteModel) == {
        "organizations.Organization",
        "organizations.OrganizationContact",
        "members.Member",
        "training.Student",
        "training.Instructor",
        "training.Location",
        "training.Cohort",
        "attachments.Attachment",
    }


def test_owned_hard_rows_are_exactly_the_domain_models():
    assert model_names(OwnedModel) == {
        "members.MemberEmployment",
        "training.Enrollment",
        "training.Attendance",
        "training.CohortInstructor",
        "training.ClassSession",
        "training.Credential",
        "training.JATCApplication",
    }


# --- Managers, delete and restore ------------------------------------------------------------------------


@pytest.mark.parametrize("factory", SOFT_DELETE_FACTORIES, ids=factory_id)
def test_soft_deleted_row_is_hidden_from_objects_but_kept_in_all_objects(factory):
    row = factory()
    model = factory._meta.model

    row.soft_delete(reason="entered twice")

    assert not model.objects.filter(pk=row.pk).exists()
    assert model.all_objects.get(pk=row.pk).deleted_at == row.deleted_at
    assert row.is_deleted


@pytest.mark.parametrize("factory", SOFT_DELETE_FACTORIES, ids=factory_id)
def test_restored_row_is_live_again(factory):
    row = factory()
    row.soft_delete(reason="entered twice")

    row.restore(reason="deleted by mistake")

    assert factory._meta.model.objects.get(pk=row.pk).deleted_at is None


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "spaces"])
def test_soft_delete_requires_a_reason(reason):
    member = MemberFactory()

    with pytest.raises(ValueError, match="reason is required"):
        member.soft_delete(reason=reason)
    assert Member.objects.filter(pk=member.pk).exists()


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "spaces"])
def test_restore_requires_a_reason(reason):
    member = MemberFactory()
    member.soft_delete(reason="left the Local")

    with pytest.raises(ValueError, match="reason is required"):
        member.restore(reason=reason)
    assert not Member.objects.filter(pk=member.pk).exists()


def test_soft_delete_and_restore_write_their_reason_to_the_history():
    member = MemberFactory()

    member.soft_delete(reason="entered twice")
    member.restore(reason="deleted by mistake")

    reasons = [event.pgh_context["reason"] for event in member.events.filter(pgh_label="update").order_by("pgh_id")]
    assert reasons == ["entered twice", "deleted by mistake"]


def test_model_delete_soft_deletes():
    member = MemberFactory()

    member.delete()

    assert Member.all_objects.get(pk=member.pk).deleted_at is not None
    assert not Member.objects.filter(pk=member.pk).exists()


def test_queryset_delete_soft_deletes():
    members = MemberFactory.create_batch(2)

    Member.objects.filter(pk__in=[m.pk for m in members]).delete()

    assert Member.all_objects.filter(pk__in=[m.pk for m in members], deleted_at__isnull=False).count() == 2
    assert not Member.objects.exists()


def test_hard_delete_removes_the_row():
    member = MemberFactory()

    member.hard_delete()

    assert not Member.all_objects.filter(pk=member.pk).exists()


def test_queryset_hard_delete_removes_the_rows():
    members = MemberFactory.create_batch(2)

    Member.all_objects.filter(pk__in=[m.pk for m in members]).hard_delete()

    assert not Member.all_objects.exists()


# --- Organization and its contacts -----------------------------------------------------------------------


def test_soft_deleting_an_organization_soft_deletes_its_live_contacts_with_the_same_timestamp():
    organization = OrganizationFactory()
    contacts = OrganizationContactFactory.create_batch(2, organization=organization)

    organization.soft_delete(reason="went out of business")

    stamps = set(OrganizationContact.all_objects.filter(pk__in=[c.pk for c in contacts]).values_list("deleted_at"))
    assert stamps == {(organization.deleted_at,)}


def test_restoring_an_organization_restores_exactly_the_contacts_deleted_with_it():
    organization = OrganizationFactory()
    earlier = OrganizationContactFactory(organization=organization)
    earlier.soft_delete(reason="left the company")
    kept = OrganizationContactFactory.create_batch(2, organization=organization)
    organization.soft_delete(reason="went out of business")

    organization.restore(reason="reopened")

    assert set(organization.contacts.all()) == set(kept)
    assert OrganizationContact.all_objects.get(pk=earlier.pk).deleted_at == earlier.deleted_at


def test_queryset_delete_of_an_organization_soft_deletes_its_contacts():
    contact = OrganizationContactFactory()

    Organization.objects.filter(pk=contact.organization_id).delete()

    assert not OrganizationContact.objects.filter(pk=contact.pk).exists()


def test_restoring_a_primary_contact_beside_a_new_primary_restores_it_as_non_primary():
    organization = OrganizationFactory()
    former = OrganizationContactFactory(organization=organization, is_primary=True)
    former.soft_delete(reason="left the company")
    OrganizationContactFactory(organization=organization, is_primary=True)

    former.restore(reason="came back")

    former.refresh_from_db()
    assert former.is_primary is False


def test_reverse_relation_hides_soft_deleted_rows():
    organization = OrganizationFactory()
    live = OrganizationContactFactory(organization=organization)
    OrganizationContactFactory(organization=organization).soft_delete(reason="left the company")

    assert list(organization.contacts.all()) == [live]


def test_related_object_access_reaches_a_soft_deleted_parent():
    contact = OrganizationContactFactory()
    contact.organization.soft_delete(reason="went out of business")

    reloaded = OrganizationContact.all_objects.get(pk=contact.pk)

    assert reloaded.organization.pk == contact.organization_id
    assert reloaded.organization.is_deleted


def test_member_reaches_its_soft_deleted_student_record():
    student = StudentFactory()
    member = MemberFactory(student=student)
    student.soft_delete(reason="record merged")

    assert Member.objects.get(pk=member.pk).student == student


# --- Owned hard rows -------------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", OWNED_TARGET_FACTORIES, ids=factory_id)
def test_deleting_an_owned_row_soft_deletes_its_live_attachments(factory):
    owned = factory()
    live = AttachmentFactory.create_batch(2, target_obj=owned)
    other = AttachmentFactory(target_obj=factory())

    owned.delete()

    assert not factory._meta.model.objects.filter(pk=owned.pk).exists()
    assert Attachment.all_objects.filter(pk__in=[a.pk for a in live], deleted_at__isnull=False).count() == 2
    assert Attachment.objects.filter(pk=other.pk).exists()


def test_deleting_an_owned_row_keeps_the_earlier_deletion_time_of_an_attachment():
    employment = MemberEmploymentFactory()
    earlier = AttachmentFactory(target_obj=employment)
    earlier.soft_delete(reason="wrong file")

    employment.delete()

    assert Attachment.all_objects.get(pk=earlier.pk).deleted_at == earlier.deleted_at


def test_deleting_an_owned_row_keeps_attachments_when_the_delete_fails():
    employment = MemberEmploymentFactory()
    attachment = AttachmentFactory(target_obj=employment)

    with (
        mock.patch.object(models.Model, "delete", side_effect=RuntimeError("connection lost")),
        pytest.raises(RuntimeError),
    ):
        employment.delete()

    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_queryset_delete_of_owned_rows_soft_deletes_their_attachments():
    employment = MemberEmploymentFactory()
    attachment = AttachmentFactory(target_obj=employment)

    MemberEmployment.objects.filter(pk=employment.pk).delete()

    assert not Attachment.objects.filter(pk=attachment.pk).exists()


# --- Timestamps ------------------------------------------------------------------------------------------


def test_created_and_updated_at_are_set_by_the_database_on_a_raw_insert():
    cohort, instructor = CohortFactory(), InstructorFactory()

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO training_cohortinstructor (cohort_id, instructor_id, is_primary) "
            "VALUES (%s, %s, false) RETURNING id",
            [cohort.pk, instructor.pk],
        )
        [(pk,)] = cursor.fetchall()
        cursor.execute("SELECT transaction_timestamp()")
        [(transaction_start,)] = cursor.fetchall()

    row = CohortInstructor.objects.get(pk=pk)
    assert row.created_at >= transaction_start  # the default is the statement's time, within this transaction
    assert row.updated_at == row.created_at


def test_raw_insert_of_only_required_columns_gets_empty_optional_text():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO organizations_organization (name, org_type) VALUES ('Sparks Electric', 'employer') "
            "RETURNING id"
        )
        [(pk,)] = cursor.fetchall()

    assert Organization.objects.get(pk=pk).notes == ""


def test_updated_at_changes_on_save():
    member = MemberFactory()
    Member.objects.filter(pk=member.pk).update(updated_at=LONG_AGO)
    member.refresh_from_db()

    member.phone = "206-555-0100"
    member.save()

    member.refresh_from_db()
    assert member.updated_at > LONG_AGO


def test_updated_at_changes_on_save_with_update_fields():
    member = MemberFactory()
    Member.objects.filter(pk=member.pk).update(updated_at=LONG_AGO)
    member.refresh_from_db()

    member.phone = "206-555-0100"
    member.save(update_fields=["phone"])

    member.refresh_from_db()
    assert member.updated_at > LONG_AGO
    assert member.phone == "206-555-0100"


def test_created_at_is_not_changed_by_save():
    member = MemberFactory()
    created = Member.objects.get(pk=member.pk).created_at

    member.phone = "206-555-0100"
    member.save()

    assert Member.objects.get(pk=member.pk).created_at == created


# --- Normalisation on save -------------------------------------------------------------------------------


def test_required_text_is_trimmed_and_email_lower_cased_on_save():
    member = MemberFactory(first_name="  Ana ", last_name="\tRuiz  ", email=" Ana.Ruiz@Example.ORG ")

    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.email) == ("Ana", "Ruiz", "ana.ruiz@example.org")


def test_text_is_trimmed_and_email_lower_cased_on_save_with_update_fields():
    contact = OrganizationContactFactory()
    contact.first_name = "  Bea  "
    contact.email = "Bea@Example.ORG"

    contact.save(update_fields=["first_name", "email"])

    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Bea", "bea@example.org")


def test_employment_is_current_follows_end_date_on_save():
    employment = MemberEmploymentFactory()

    employment.end_date = datetime.date(2099, 1, 1)
    employment.save()
    ended = MemberEmployment.objects.get(pk=employment.pk).is_current
    employment.end_date = None
    employment.save()

    assert ended is False
    assert MemberEmployment.objects.get(pk=employment.pk).is_current is True


def test_employment_is_current_follows_end_date_on_save_with_update_fields():
    employment = MemberEmploymentFactory(start_date=datetime.date(2020, 1, 6))

    employment.end_date = timezone.localdate()
    employment.save(update_fields=["end_date"])

    assert MemberEmployment.objects.get(pk=employment.pk).is_current is False


def test_deleting_an_owned_row_that_carries_no_attachments_removes_it():
    assignment = CohortInstructorFactory()

    assignment.delete()

    assert not CohortInstructor.objects.filter(pk=assignment.pk).exists()
