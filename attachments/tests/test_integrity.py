import datetime
import hashlib
import os
import time

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection

import attachments.integrity  # noqa: F401  (registers the checks)
from attachments.factories import AttachmentFactory
from attachments.models import Attachment, AttachmentCategory, attachments_storage
from audit.models import CommandRun
from ip2a.integrity import CHECKS, CheckContext, apply_repairs, run_check, select_checks
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations.factories import OrganizationFactory
from training.factories import CredentialFactory, EnrollmentFactory, StudentFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 10, 1)
CHECK_IDS = [f"FIL-00{n}" for n in range(1, 9)]
C = AttachmentCategory


def check(check_id, verify_checksums=False):
    return run_check(CHECKS[check_id], CheckContext(today=TODAY, verify_checksums=verify_checksums))


def drop_rule(rule):
    """Drop a named constraint of the attachment table; the test's transaction rolls the DDL back."""
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE attachments_attachment DROP CONSTRAINT "attachments_attachment_{rule}"')


def repair(issues):
    run_id = CommandRun.objects.create(command="repair").pk
    results = apply_repairs(issues, run_id=run_id)
    assert [result.status for result in results] == ["applied"] * len(issues)
    return run_id


def repair_context(attachment):
    event = Attachment.pgh_event_model.objects.filter(pgh_obj_id=attachment.pk).order_by("pgh_id").last()
    return {"source": event.pgh_context["source"], "reason": event.pgh_context["reason"]}


def ids(issues):
    return [issue.object_ids for issue in issues]


def is_manual(issues):
    return all(issue.repair is None and issue.fix is None for issue in issues)


def deleted(obj):
    obj.soft_delete(reason="test")
    return obj


def stored_path(attachment):
    return os.path.join(attachments_storage().location, attachment.file.name)


def put_file(attachments_dir, name, content=b"stray", age=7200):
    """Write a file straight into the storage, last modified ``age`` seconds ago."""
    path = attachments_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


@pytest.fixture
def clean_data():
    """One attachment on every kind of target, each with an allowed category and type."""
    member = MemberFactory()
    student = StudentFactory()
    AttachmentFactory(target_obj=member, category=C.IDENTIFICATION)
    AttachmentFactory(target_obj=MemberEmploymentFactory(member=member), category=C.PAY_RECORDS)
    AttachmentFactory(target_obj=OrganizationFactory(), category=C.CONTRACTS)
    AttachmentFactory(target_obj=student, category=C.APPLICATIONS)
    AttachmentFactory(target_obj=EnrollmentFactory(student=student), category=C.COMPLETION)
    AttachmentFactory(
        target_obj=CredentialFactory(student=student),
        category=C.WALLET_CARD,
        content=b"\x89PNG\r\n\x1a\n card",
        file=ContentFile(b"\x89PNG\r\n\x1a\n card", name="card.png"),
        original_name="card.png",
        content_type="image/png",
    )
    deleted(AttachmentFactory(target_obj=member))


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_attachment_checks_find_nothing_in_clean_data(clean_data, check_id):
    assert check(check_id, verify_checksums=True) == []


def test_attachment_checks_are_registered_with_severity_and_storage_flags():
    flags = {check_id: (CHECKS[check_id].severity, CHECKS[check_id].storage) for check_id in CHECK_IDS}

    assert flags == {
        "FIL-001": ("critical", False),
        "FIL-002": ("warning", False),
        "FIL-003": ("warning", True),
        "FIL-004": ("warning", True),
        "FIL-005": ("critical", True),
        "FIL-006": ("critical", False),
        "FIL-007": ("info", True),
        "FIL-008": ("warning", False),
    }


def test_attachment_checksum_check_runs_only_with_verify_checksums():
    without = {check.id for check in select_checks(["FIL"])}
    with_checksums = {check.id for check in select_checks(["FIL"], verify_checksums=True)}

    assert with_checksums - without == {"FIL-005"}


# --- FIL-001 ---------------------------------------------------------------------------------------------


@pytest.fixture
def nameless():
    attachment = AttachmentFactory()
    Attachment.objects.filter(pk=attachment.pk).update(file="")
    return attachment


def test_attachments_have_file_name_reports_rows_with_an_empty_file_name(nameless):
    AttachmentFactory()

    issues = check("FIL-001")

    assert ids(issues) == [[nameless.pk]]
    assert issues[0].details == {"attachment_id": nameless.pk, "target_type": "members.member"}
    assert issues[0].repair == "soft-delete the attachment row"


def test_attachments_have_file_name_leaves_out_rows_already_deleted(nameless):
    deleted(nameless)  # the repaired state: reporting it again would leave a critical finding no repair clears

    assert check("FIL-001") == []


def test_attachments_have_file_name_repair_soft_deletes_the_row(nameless):
    run_id = repair(check("FIL-001"))

    assert check("FIL-001") == []
    assert Attachment.all_objects.get(pk=nameless.pk).deleted_at is not None
    assert repair_context(nameless) == {"source": "repair", "reason": f"integrity repair FIL-001 run {run_id}"}


# --- FIL-002 ---------------------------------------------------------------------------------------------


@pytest.fixture
def orphans():
    member = MemberFactory()
    on_member = AttachmentFactory(target_obj=member, target_id=member.pk + 1000)
    second = AttachmentFactory(target_obj=member, target_id=member.pk + 1000)
    credential = CredentialFactory()
    on_credential = AttachmentFactory(target_obj=credential, target_id=credential.pk + 1000, category=C.CERTIFICATE)
    AttachmentFactory(target_obj=deleted(MemberFactory()))  # a soft-deleted target still exists
    deleted(AttachmentFactory(target_obj=member, target_id=member.pk + 2000))
    return on_member, second, on_credential


def test_attachment_targets_exist_reports_attachments_of_missing_targets_of_any_type(orphans):
    on_member, second, on_credential = orphans

    issues = check("FIL-002")

    assert sorted(ids(issues)) == sorted([[on_member.pk, second.pk], [on_credential.pk]])
    assert sorted(issue.details["target_type"] for issue in issues) == ["members.member", "training.credential"]
    member_issue = next(issue for issue in issues if issue.details["target_type"] == "members.member")
    assert member_issue.details == {
        "target_type": "members.member",
        "target_id": on_member.target_id,
        "attachment_ids": [on_member.pk, second.pk],
    }
    assert member_issue.repair == "soft-delete the attachment rows (their files are kept)"


def test_attachment_targets_exist_repair_soft_deletes_the_rows_and_keeps_the_files(orphans):
    on_member, second, on_credential = orphans

    run_id = repair(check("FIL-002"))

    assert check("FIL-002") == []
    assert Attachment.objects.filter(pk__in=[on_member.pk, second.pk, on_credential.pk]).count() == 0
    assert os.path.exists(stored_path(on_member))
    assert repair_context(on_credential) == {"source": "repair", "reason": f"integrity repair FIL-002 run {run_id}"}


def test_attachment_targets_exist_reports_attachments_of_a_model_that_is_gone():
    gone = ContentType.objects.create(app_label="retired", model="thing")
    attachment = AttachmentFactory(target_type=gone, target_id=7)

    issues = check("FIL-002")

    assert [issue.details for issue in issues] == [
        {"target_type": "retired.thing", "target_id": 7, "attachment_ids": [attachment.pk]}
    ]


# --- FIL-003, FIL-004, FIL-005 ---------------------------------------------------------------------------


def test_attachment_files_exist_reports_missing_files():
    missing = AttachmentFactory()
    os.remove(stored_path(missing))
    AttachmentFactory()

    issues = check("FIL-003")

    assert ids(issues) == [[missing.pk]]
    assert issues[0].details == {"attachment_id": missing.pk, "file": missing.file.name}
    assert is_manual(issues)


def test_attachment_files_exist_ignores_deleted_rows_and_attachments_of_deleted_targets():
    gone = deleted(AttachmentFactory())
    os.remove(stored_path(gone))
    student = StudentFactory()
    of_enrollment = AttachmentFactory(target_obj=EnrollmentFactory(student=student), category=C.PROGRESS)
    os.remove(stored_path(of_enrollment))
    deleted(student)

    assert check("FIL-003") == []


def test_attachment_file_sizes_match_reports_files_of_another_size():
    grown = AttachmentFactory()
    os.truncate(stored_path(grown), 5000)  # sparse, like seeded files: the apparent size counts
    os.remove(stored_path(AttachmentFactory()))  # missing files are FIL-003's
    deleted(AttachmentFactory(content=b"%PDF-1.4 other"))
    AttachmentFactory()

    issues = check("FIL-004")

    assert ids(issues) == [[grown.pk]]
    assert issues[0].details == {
        "attachment_id": grown.pk,
        "file": grown.file.name,
        "recorded_size": grown.size,
        "stored_size": 5000,
    }
    assert is_manual(issues)


@pytest.fixture
def tampered():
    attachment = deleted(AttachmentFactory())  # a critical check: deleted rows count too
    with open(stored_path(attachment), "r+b") as stored:
        stored.write(b"%PDF-1.5")
    AttachmentFactory()
    return attachment


def test_attachment_checksums_match_reports_content_that_changed(tampered):
    issues = check("FIL-005", verify_checksums=True)

    with open(stored_path(tampered), "rb") as stored:
        actual = hashlib.sha256(stored.read()).hexdigest()
    assert ids(issues) == [[tampered.pk]]
    assert issues[0].details == {
        "attachment_id": tampered.pk,
        "file": tampered.file.name,
        "recorded_sha256": tampered.sha256,
        "stored_sha256": actual,
    }
    assert is_manual(issues)


def test_attachment_checksums_match_reads_nothing_without_verify_checksums(tampered):
    assert check("FIL-005", verify_checksums=False) == []


# --- FIL-006 ---------------------------------------------------------------------------------------------


def test_attachment_size_and_checksum_well_formed_reports_bad_sizes_and_digests():
    drop_rule("size_range")
    drop_rule("sha256_format")
    empty = AttachmentFactory()
    huge = deleted(AttachmentFactory())
    shouting = AttachmentFactory()
    Attachment.all_objects.filter(pk=empty.pk).update(size=0)
    Attachment.all_objects.filter(pk=huge.pk).update(size=52_428_801, sha256="abc")
    Attachment.all_objects.filter(pk=shouting.pk).update(sha256=shouting.sha256.upper())
    AttachmentFactory()

    issues = check("FIL-006")

    assert ids(issues) == [[empty.pk], [huge.pk], [shouting.pk]]
    assert [(i.details["size_out_of_range"], i.details["sha256_malformed"]) for i in issues] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    assert is_manual(issues)


# --- FIL-007 ---------------------------------------------------------------------------------------------


def test_stored_files_referenced_reports_settled_files_no_row_names(attachments_dir):
    put_file(attachments_dir, "member/2020/01/stray.pdf", b"12345")
    put_file(attachments_dir, "member/2020/01/fresh.pdf", age=0)  # may belong to an upload in progress
    put_file(attachments_dir, "quarantine/member/2019/old.pdf")
    deleted(AttachmentFactory())
    AttachmentFactory()

    issues = check("FIL-007")

    assert [issue.details for issue in issues] == [{"file": "member/2020/01/stray.pdf", "size": 5}]
    assert (issues[0].object_ids, issues[0].repair) == ([], "move member/2020/01/stray.pdf under quarantine/")


def test_stored_files_referenced_repair_moves_the_file_under_quarantine(attachments_dir):
    put_file(attachments_dir, "member/2020/01/stray.pdf", b"new")
    put_file(attachments_dir, "quarantine/member/2020/01/stray.pdf", b"kept from before")

    repair(check("FIL-007"))

    assert check("FIL-007") == []
    assert not (attachments_dir / "member/2020/01/stray.pdf").exists()
    moved = sorted(p.read_bytes() for p in (attachments_dir / "quarantine/member/2020/01").iterdir())
    assert moved == [b"kept from before", b"new"]


def test_stored_files_referenced_repair_leaves_a_file_that_a_row_claimed_meanwhile(attachments_dir):
    put_file(attachments_dir, "member/2020/01/stray.pdf")
    issues = check("FIL-007")
    claimed = AttachmentFactory()
    Attachment.objects.filter(pk=claimed.pk).update(file="member/2020/01/stray.pdf")

    repair(issues)

    assert (attachments_dir / "member/2020/01/stray.pdf").exists()


@pytest.fixture
def memory_storage(settings, monkeypatch):
    """An attachments storage without local paths, so the checks take the storage API."""
    settings.STORAGES = {**settings.STORAGES, "attachments": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", attachments_storage())
    monkeypatch.setattr(attachments.integrity, "UNREFERENCED_MIN_AGE", -60)  # its files are all brand new
    return attachments_storage()


def test_attachment_files_exist_reports_missing_files_through_the_storage_api(memory_storage):
    missing = AttachmentFactory()
    memory_storage.delete(missing.file.name)
    AttachmentFactory()

    assert ids(check("FIL-003")) == [[missing.pk]]


def test_stored_files_referenced_repair_moves_the_file_through_the_storage_api(memory_storage):
    memory_storage.save("member/2020/01/stray.pdf", ContentFile(b"stray"))
    AttachmentFactory()

    repair(check("FIL-007"))

    assert check("FIL-007") == []
    assert memory_storage.listdir("quarantine/member/2020/01") == ([], ["stray.pdf"])
    assert not memory_storage.exists("member/2020/01/stray.pdf")


# --- FIL-008 ---------------------------------------------------------------------------------------------


def test_attachment_category_and_type_allowed_reports_each_problem(make_user):
    wrong_category = AttachmentFactory(target_obj=CredentialFactory(), category=C.IDENTIFICATION)
    wrong_type = AttachmentFactory(content_type="text/plain")
    executable = AttachmentFactory(file=ContentFile(b"MZ", name="tool.exe"), content_type="application/octet-stream")
    foreign = AttachmentFactory(target_obj=make_user())
    AttachmentFactory(category=C.DUES)

    issues = check("FIL-008")

    assert ids(issues) == [[wrong_category.pk], [wrong_type.pk], [executable.pk], [foreign.pk]]
    assert [issue.details["problems"] for issue in issues] == [
        ["category_not_allowed"],
        ["content_type_mismatch"],
        ["extension_not_allowed"],
        ["target_type_not_allowed"],
    ]
    assert issues[0].details == {
        "attachment_id": wrong_category.pk,
        "target_type": "training.credential",
        "category": "identification",
        "extension": "pdf",
        "content_type": "application/pdf",
        "problems": ["category_not_allowed"],
    }
    assert is_manual(issues)


def test_attachment_category_and_type_allowed_ignores_deleted_rows_and_attachments_of_deleted_targets():
    deleted(AttachmentFactory(category=C.CONTRACTS))
    member = MemberFactory()
    AttachmentFactory(target_obj=MemberEmploymentFactory(member=member), category=C.DUES)
    deleted(member)

    assert check("FIL-008") == []
