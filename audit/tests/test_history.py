"""Change history (DOMAIN.md §6): every write path is recorded with the context that was set, every domain
model and the auth user are tracked, and the event tables are append-only in the database."""

import uuid

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone
from pghistory.models import Event

from attachments.factories import AttachmentFactory
from audit.history import history_context, os_username
from audit.models import AuditSource, UserEvent, UserGroupEvent
from ip2a.models import SoftDeleteModel
from members.factories import MemberEmploymentFactory, MemberFactory
from members.models import Member, MemberEmployment, MemberStatus
from organizations.factories import OrganizationContactFactory, OrganizationFactory
from training.factories import (
    AttendanceFactory,
    ClassSessionFactory,
    CohortFactory,
    CohortInstructorFactory,
    CredentialFactory,
    EnrollmentFactory,
    InstructorFactory,
    JATCApplicationFactory,
    LocationFactory,
    StudentFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"

# Every tracked model, with the factory that makes one row and a change that must be recorded.
TRACKED = [
    (OrganizationFactory, "notes", "changed"),
    (OrganizationContactFactory, "notes", "changed"),
    (MemberFactory, "notes", "changed"),
    (MemberEmploymentFactory, "notes", "changed"),
    (StudentFactory, "notes", "changed"),
    (InstructorFactory, "bio", "changed"),
    (LocationFactory, "notes", "changed"),
    (CohortFactory, "description", "changed"),
    (CohortInstructorFactory, "is_primary", False),
    (ClassSessionFactory, "notes", "changed"),
    (EnrollmentFactory, "notes", "changed"),
    (AttendanceFactory, "notes", "changed"),
    (CredentialFactory, "notes", "changed"),
    (JATCApplicationFactory, "notes", "changed"),
    (AttachmentFactory, "description", "changed"),
]
TRACKED_IDS = [factory._meta.model._meta.label for factory, _, _ in TRACKED]
DOMAIN_APPS = ("organizations", "members", "training", "attachments")


@pytest.fixture
def operator(make_user):
    return make_user("staff", username="olga")


def expected_context(user, *, reason, source=AuditSource.COMMAND, **extra):
    return {"source": source, "user_id": user.pk, "username": user.username, "reason": reason, **extra}


def events_of(model, pk):
    return list(model.pgh_event_model.objects.filter(pgh_obj_id=pk).order_by("pgh_id"))


def labels_of(model, pk):
    return [event.pgh_label for event in events_of(model, pk)]


# --- Write paths ---------------------------------------------------------------------------------------------


def test_history_save_insert_is_recorded_with_its_context(operator):
    with history_context(source=AuditSource.COMMAND, reason="new member", user=operator, command="t", run_id=7):
        member = MemberFactory(first_name="Ana", last_name="Ruiz")

    event = member.events.get()
    assert event.pgh_label == "insert"
    assert (event.member_number, event.first_name, event.last_name) == (member.member_number, "Ana", "Ruiz")
    assert event.pgh_context == expected_context(operator, reason="new member", command="t", run_id=7)
    assert isinstance(event.pgh_context_id, uuid.UUID)


def test_history_write_outside_any_context_is_recorded_without_context():
    member = MemberFactory()

    event = member.events.get()
    assert (event.pgh_label, event.pgh_context, event.pgh_context_id) == ("insert", None, None)


def test_history_save_update_is_recorded_with_the_new_values(operator):
    member = MemberFactory(first_name="Ana")

    with history_context(source=AuditSource.COMMAND, reason="typo", user=operator):
        member.first_name = "Anna"
        member.save()

    insert, update = events_of(Member, member.pk)
    assert (insert.pgh_label, insert.first_name) == ("insert", "Ana")
    assert (update.pgh_label, update.first_name) == ("update", "Anna")
    assert update.pgh_context == expected_context(operator, reason="typo")


def test_history_update_touching_only_updated_at_writes_no_event(operator):
    member = MemberFactory()

    with history_context(source=AuditSource.COMMAND, reason="touch", user=operator):
        member.save()
        Member.objects.filter(pk=member.pk).update(updated_at=timezone.now())

    assert labels_of(Member, member.pk) == ["insert"]


def test_history_queryset_update_is_recorded_for_every_row(operator):
    members = MemberFactory.create_batch(3)

    with history_context(source=AuditSource.COMMAND, reason="dues arrears", user=operator):
        Member.objects.filter(pk__in=[m.pk for m in members]).update(
            status=MemberStatus.SUSPENDED, updated_at=timezone.now()
        )

    updates = Member.pgh_event_model.objects.filter(pgh_label="update").order_by("pgh_obj_id")
    assert [(e.pgh_obj_id, e.status) for e in updates] == [(m.pk, MemberStatus.SUSPENDED) for m in members]
    assert {e.pgh_context["reason"] for e in updates} == {"dues arrears"}
    assert len({e.pgh_context_id for e in updates}) == 1  # one block, one context id


def test_history_bulk_create_is_recorded_for_every_row(operator):
    with history_context(source=AuditSource.IMPORT, reason="members.csv", user=operator):
        members = Member.objects.bulk_create(MemberFactory.build_batch(3))

    inserts = Member.pgh_event_model.objects.order_by("pgh_obj_id")
    assert [(e.pgh_label, e.pgh_obj_id, e.member_number) for e in inserts] == [
        ("insert", m.pk, m.member_number) for m in members
    ]
    assert [e.pgh_context for e in inserts] == [
        expected_context(operator, reason="members.csv", source=AuditSource.IMPORT)
    ] * 3


def test_history_bulk_update_is_recorded_for_every_row(operator):
    members = MemberFactory.create_batch(2)
    for member in members:
        member.phone = "206-555-0100"
        member.updated_at = timezone.now()

    with history_context(source=AuditSource.COMMAND, reason="phone fix", user=operator):
        Member.objects.bulk_update(members, ["phone", "updated_at"])

    updates = Member.pgh_event_model.objects.filter(pgh_label="update").order_by("pgh_obj_id")
    assert [(e.pgh_obj_id, e.phone) for e in updates] == [(m.pk, "206-555-0100") for m in members]
    assert [e.pgh_context for e in updates] == [expected_context(operator, reason="phone fix")] * 2


def test_history_delete_of_an_owned_row_keeps_its_last_state(operator):
    employment = MemberEmploymentFactory(job_title="Foreman")
    pk = employment.pk

    with history_context(source=AuditSource.COMMAND, reason="", user=operator):
        employment.delete(reason="entered in error")

    assert not MemberEmployment.objects.filter(pk=pk).exists()
    insert, delete = events_of(MemberEmployment, pk)
    assert (insert.pgh_label, delete.pgh_label) == ("insert", "delete")
    assert (delete.job_title, delete.member_id) == ("Foreman", employment.member_id)
    assert delete.pgh_context == expected_context(operator, reason="entered in error")


def test_history_soft_delete_is_an_update_of_deleted_at_with_the_reason(operator):
    member = MemberFactory()

    with history_context(source=AuditSource.COMMAND, reason="", user=operator):
        member.soft_delete(reason="duplicate record")

    insert, update = events_of(Member, member.pk)
    assert update.pgh_label == "update"
    assert update.deleted_at == Member.all_objects.get(pk=member.pk).deleted_at
    assert update.deleted_at is not None
    assert update.pgh_context == expected_context(operator, reason="duplicate record")


def test_history_restore_is_an_update_clearing_deleted_at_with_the_reason(operator):
    member = MemberFactory()
    member.soft_delete(reason="duplicate record")

    with history_context(source=AuditSource.COMMAND, reason="", user=operator):
        member.restore(reason="not a duplicate after all")

    *_, restore = events_of(Member, member.pk)
    assert (restore.pgh_label, restore.deleted_at) == ("update", None)
    assert restore.pgh_context == expected_context(operator, reason="not a duplicate after all")


def test_history_soft_delete_records_the_owned_rows_in_the_same_context(operator):
    organization = OrganizationFactory()
    contact = OrganizationContactFactory(organization=organization)

    with history_context(source=AuditSource.COMMAND, reason="", user=operator):
        organization.soft_delete(reason="closed down")

    org_event = events_of(type(organization), organization.pk)[-1]
    contact_event = events_of(type(contact), contact.pk)[-1]
    assert contact_event.deleted_at == org_event.deleted_at
    assert contact_event.pgh_context == org_event.pgh_context == expected_context(operator, reason="closed down")
    assert contact_event.pgh_context_id == org_event.pgh_context_id


def test_history_raw_sql_update_is_recorded_with_its_context(operator):
    member = MemberFactory(first_name="Ana")

    with history_context(source=AuditSource.REPAIR, reason="manual fix", user=operator), connection.cursor() as cur:
        cur.execute("UPDATE members_member SET first_name = %s WHERE id = %s", ["Carla", member.pk])

    update = events_of(Member, member.pk)[-1]
    assert (update.pgh_label, update.first_name) == ("update", "Carla")
    assert update.pgh_context == expected_context(operator, reason="manual fix", source=AuditSource.REPAIR)


# --- The context manager -------------------------------------------------------------------------------------


def test_history_context_without_user_records_the_os_account():
    with history_context(source=AuditSource.COMMAND, reason="cron"):
        member = MemberFactory()

    assert member.events.get().pgh_context == {
        "source": "command",
        "user_id": None,
        "username": f"os:{os_username()}",
        "reason": "cron",
    }


def test_history_context_rejects_an_unknown_source():
    with pytest.raises(ValueError, match="Unknown history source 'cron'"), history_context(source="cron"):
        pass


def test_history_context_nested_adds_to_the_outer_context_and_keeps_its_user(operator):
    with (
        history_context(source=AuditSource.WEB, user=operator, url="/members/import/", request_id="r-1"),
        history_context(source=AuditSource.IMPORT, reason="members.csv"),
    ):
        member = MemberFactory()

    assert member.events.get().pgh_context == expected_context(
        operator, reason="members.csv", source=AuditSource.IMPORT, url="/members/import/", request_id="r-1"
    )


# --- Every tracked model -------------------------------------------------------------------------------------


def test_history_tracks_every_domain_model():
    domain_models = {
        model
        for app_label in DOMAIN_APPS
        for model in apps.get_app_config(app_label).get_models()
        if not issubclass(model, Event) and not model._meta.proxy
    }

    assert domain_models == {factory._meta.model for factory, _, _ in TRACKED}
    assert all(issubclass(model.pgh_event_model, Event) for model in domain_models)


@pytest.mark.parametrize(("factory", "field", "value"), TRACKED, ids=TRACKED_IDS)
def test_history_records_insert_update_and_delete_of(factory, field, value, operator):
    with history_context(source=AuditSource.COMMAND, reason="lifecycle", user=operator):
        obj = factory()
        setattr(obj, field, value)
        obj.save()
        pk, model = obj.pk, type(obj)
        if isinstance(obj, SoftDeleteModel):
            obj.soft_delete(reason="lifecycle")
            obj.hard_delete()
            expected = ["insert", "update", "update", "delete"]
        else:
            obj.delete(reason="lifecycle")
            expected = ["insert", "update", "delete"]

    events = events_of(model, pk)
    assert [event.pgh_label for event in events] == expected
    assert getattr(events[1], field) == value
    assert {event.pgh_context["username"] for event in events} == {"olga"}


@pytest.mark.parametrize("factory", [factory for factory, _, _ in TRACKED], ids=TRACKED_IDS)
def test_history_event_table_rejects_update_and_delete_of(factory):
    obj = factory()
    event_model = type(obj).pgh_event_model
    event = event_model.objects.get(pgh_obj_id=obj.pk)
    table = connection.ops.quote_name(event_model._meta.db_table)

    for sql in (f"UPDATE {table} SET pgh_label = 'forged'", f"DELETE FROM {table}"):
        with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
            connection.cursor().execute(sql)

    assert event_model.objects.get(pgh_id=event.pgh_id).pgh_label == "insert"


# --- Append-only event tables --------------------------------------------------------------------------------


def test_history_event_update_through_the_orm_is_rejected():
    member = MemberFactory()
    event = member.events.get()

    with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
        Member.pgh_event_model.objects.filter(pk=event.pk).update(first_name="Forged")

    event.refresh_from_db()
    assert event.first_name == member.first_name


def test_history_event_delete_through_the_orm_is_rejected():
    member = MemberFactory()

    with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
        member.events.all().delete()

    assert member.events.count() == 1


def test_history_event_raw_sql_update_and_delete_are_rejected():
    member = MemberFactory(first_name="Ana")
    statements = [
        ("UPDATE members_memberevent SET first_name = 'Forged' WHERE pgh_obj_id = %s", [member.pk]),
        ("DELETE FROM members_memberevent WHERE pgh_obj_id = %s", [member.pk]),
    ]

    for sql, params in statements:
        with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
            connection.cursor().execute(sql, params)

    assert [(e.pgh_label, e.first_name) for e in member.events.all()] == [("insert", "Ana")]


def test_history_event_table_still_accepts_inserts():
    member = MemberFactory()
    row = {field.attname: getattr(member, field.attname) for field in Member._meta.concrete_fields}

    Member.pgh_event_model.objects.create(pgh_obj=member, pgh_label="snapshot", **row)

    assert labels_of(Member, member.pk) == ["insert", "snapshot"]


# --- Auth user and group membership --------------------------------------------------------------------------


def test_history_user_event_leaves_out_password_and_last_login():
    fields = {field.name for field in UserEvent._meta.get_fields()}

    assert {"username", "first_name", "email", "is_active"} <= fields
    assert fields.isdisjoint({"password", "last_login"})


def test_history_login_writes_no_user_event(client, make_user):
    user = make_user(None, username="sam")

    response = client.post("/accounts/login/", {"username": "sam", "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.last_login is not None
    assert [event.pgh_label for event in UserEvent.objects.filter(pgh_obj_id=user.pk)] == ["insert"]


def test_history_password_change_writes_no_user_event(make_user):
    user = make_user(None, username="sam")

    user.set_password("another-long-passphrase")
    user.save()

    assert [event.pgh_label for event in UserEvent.objects.filter(pgh_obj_id=user.pk)] == ["insert"]


def test_history_user_name_change_writes_a_user_event(make_user, operator):
    user = make_user(None, username="sam")

    with history_context(source=AuditSource.COMMAND, reason="rename", user=operator):
        user.first_name = "Samuel"
        user.save()

    update = UserEvent.objects.filter(pgh_obj_id=user.pk).order_by("pgh_id").last()
    assert (update.pgh_label, update.first_name, update.username) == ("update", "Samuel", "sam")
    assert update.pgh_context == expected_context(operator, reason="rename")


def test_history_group_membership_writes_insert_and_delete_events(make_user, operator):
    user = make_user(None, username="sam")
    group = Group.objects.get(name="officer")

    with history_context(source=AuditSource.COMMAND, reason="promotion", user=operator):
        user.groups.add(group)
        user.groups.remove(group)

    events = UserGroupEvent.objects.filter(user_id=user.pk).order_by("pgh_id")
    assert [(e.pgh_label, e.group_id) for e in events] == [("insert", group.pk), ("delete", group.pk)]
    assert [e.pgh_context for e in events] == [expected_context(operator, reason="promotion")] * 2


def test_history_user_event_table_rejects_update_and_delete(make_user):
    user = make_user("staff", username="sam")

    for queryset in (UserEvent.objects.filter(pgh_obj_id=user.pk), UserGroupEvent.objects.filter(user_id=user.pk)):
        with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
            queryset.update(pgh_label="forged")
        with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
            queryset.delete()
        assert list(queryset.values_list("pgh_label", flat=True)) == ["insert"]


def test_history_user_deletion_keeps_the_username_snapshot(make_user):
    user = make_user(None, username="sam")
    pk = user.pk

    User.objects.filter(pk=pk).delete()

    assert [(e.pgh_label, e.username) for e in UserEvent.objects.filter(pgh_obj_id=pk)] == [
        ("insert", "sam"),
        ("delete", "sam"),
    ]
