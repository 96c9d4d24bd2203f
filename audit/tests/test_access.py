"""log_access and the AccessLog (DOMAIN.md §6): views of personal data, exports and downloads are recorded,
and the log is append-only in the database."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from attachments.factories import AttachmentFactory
from audit.access import log_access
from audit.models import AccessAction, AccessLog
from members.factories import MemberFactory
from members.models import Member
from organizations.factories import OrganizationFactory
from organizations.models import Organization
from training.factories import StudentFactory

pytestmark = pytest.mark.django_db

REQUEST_ID = "0b6f3a52-3a4e-4c4b-9a53-0f1d2c3b4a59"


@pytest.fixture
def request_for(rf, make_user):
    """Return a function giving a GET request as the middleware leaves it: user, client_ip and request_id set."""
    sam = make_user("staff", username="sam")

    def make(path, user=None, **params):
        request = rf.get(path, params, REMOTE_ADDR="10.9.9.9")
        request.user = user or sam
        request.client_ip = "203.0.113.9"
        request.request_id = REQUEST_ID
        return request

    return make


def test_log_access_view_of_a_member_writes_one_row(request_for):
    member = MemberFactory(member_number="7004512", first_name="Ana", last_name="Ruiz")
    request = request_for(f"/members/{member.pk}/")

    log_access(request, action=AccessAction.VIEW, obj=member)

    entry = AccessLog.objects.get()
    assert entry.user == request.user
    assert entry.username == "sam"
    assert entry.action == "view"
    assert (entry.target_type, entry.target_id) == (ContentType.objects.get_for_model(Member), member.pk)
    assert entry.object_repr == "Member 7004512 — Ana Ruiz"
    assert (entry.path, entry.query, entry.row_count) == (f"/members/{member.pk}/", "", None)
    assert (entry.ip, entry.request_id) == ("203.0.113.9", REQUEST_ID)
    assert entry.created_at is not None


def test_log_access_view_of_a_student_writes_one_row(request_for):
    student = StudentFactory(first_name="Lee", last_name="Park")

    log_access(request_for(f"/training/students/{student.pk}/"), action=AccessAction.VIEW, obj=student)

    assert list(AccessLog.objects.values_list("action", "object_repr")) == [("view", "Student Lee Park")]


def test_log_access_view_of_an_organization_writes_nothing(request_for):
    organization = OrganizationFactory()

    log_access(request_for(f"/organizations/{organization.pk}/"), action=AccessAction.VIEW, obj=organization)

    assert not AccessLog.objects.exists()


def test_log_access_export_writes_the_query_and_row_count_without_target(request_for):
    MemberFactory.create_batch(3)
    request = request_for("/members/", status="active", export="csv")

    log_access(request, action=AccessAction.EXPORT, queryset=Member.objects.all(), rows=3)

    entry = AccessLog.objects.get()
    assert (entry.action, entry.target_type, entry.target_id) == ("export", None, None)
    assert (entry.query, entry.row_count) == ("status=active&export=csv", 3)
    assert (entry.path, entry.object_repr) == ("/members/", "Members list")


def test_log_access_export_of_non_personal_data_is_logged_too(request_for):
    OrganizationFactory()
    request = request_for("/organizations/", export="xlsx")

    log_access(request, action=AccessAction.EXPORT, queryset=Organization.objects.all(), rows=1)

    assert list(AccessLog.objects.values_list("action", "object_repr", "row_count")) == [
        ("export", "Organizations list", 1)
    ]


def test_log_access_download_writes_a_row_for_the_attachment(request_for):
    attachment = AttachmentFactory(original_name="photo-id.pdf")
    request = request_for(f"/attachments/{attachment.pk}/download/")

    log_access(request, action=AccessAction.DOWNLOAD, obj=attachment)

    entry = AccessLog.objects.get()
    assert (entry.action, entry.target_type.model, entry.target_id) == ("download", "attachment", attachment.pk)
    assert (entry.object_repr, entry.row_count, entry.query) == ("Attachment photo-id.pdf", None, "")


def test_log_access_rejects_an_unknown_action(request_for):
    member = MemberFactory()

    with pytest.raises(ValueError, match="Unknown access action 'print'"):
        log_access(request_for("/members/"), action="print", obj=member)
    assert not AccessLog.objects.exists()


def test_log_access_without_middleware_attributes_uses_remote_addr(rf, make_user):
    request = rf.get("/members/1/", REMOTE_ADDR="198.51.100.7")
    request.user = make_user("staff")

    log_access(request, action=AccessAction.VIEW, obj=MemberFactory())

    assert list(AccessLog.objects.values_list("ip", "request_id")) == [("198.51.100.7", "")]


def test_log_access_anonymous_request_keeps_no_user(request_for):
    log_access(request_for("/members/1/", user=AnonymousUser()), action=AccessAction.VIEW, obj=MemberFactory())

    assert list(AccessLog.objects.values_list("user", "username")) == [(None, "")]


# --- Append-only ---------------------------------------------------------------------------------------------


@pytest.fixture
def entry(request_for):
    log_access(request_for("/members/"), action=AccessAction.EXPORT, queryset=Member.objects.all(), rows=0)
    return AccessLog.objects.get()


def test_access_log_update_through_the_orm_is_rejected(entry):
    with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).update(username="someone-else")

    entry.refresh_from_db()
    assert entry.username == "sam"


def test_access_log_delete_through_the_orm_is_rejected(entry):
    with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
        entry.delete()

    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_access_log_raw_sql_update_and_delete_are_rejected(entry):
    statements = [
        ("UPDATE audit_accesslog SET username = 'someone-else' WHERE id = %s", [entry.pk]),
        ("DELETE FROM audit_accesslog WHERE id = %s", [entry.pk]),
    ]

    for sql, params in statements:
        with pytest.raises(ProgrammingError, match="Cannot update or delete rows"), transaction.atomic():
            connection.cursor().execute(sql, params)

    assert list(AccessLog.objects.values_list("pk", "username")) == [(entry.pk, "sam")]


def test_access_log_still_accepts_inserts(entry, request_for):
    log_access(request_for("/members/"), action=AccessAction.EXPORT, queryset=Member.objects.all(), rows=0)

    assert AccessLog.objects.count() == 2


def test_log_access_writes_every_column_but_the_id_and_the_time():
    from audit.access import INSERTED

    # A column added to AccessLog must be written by log_access's plain INSERT too.
    assert set(INSERTED) == {field.name for field in AccessLog._meta.concrete_fields} - {"id", "created_at"}
