"""Attachments in an S3-compatible bucket (ATTACHMENTS_S3_*): the settings, then upload, download (streamed or by
signed URL), delete, the integrity checks, reset, seed, backup and restore against a real S3 HTTP API (moto's
server, in this process on a free 127.0.0.1 port)."""

import datetime as dt
import hashlib
import io
import json
import os
import runpy
import socket
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

import attachments.integrity
import attachments.services
from attachments.factories import PDF_BYTES, AttachmentFactory
from attachments.models import Attachment
from attachments.storage import local_root
from attachments.views import AttachmentDownloadView
from audit.models import AccessLog, CommandRun
from ip2a.backup import MANIFEST
from ip2a.integrity import CHECKS, CheckContext, apply_repairs, run_check
from ip2a.reset import empty_attachments_storage
from ip2a.tests.test_hostile_input import domain_digest
from members.factories import MemberFactory
from members.models import Member

boto3 = pytest.importorskip("boto3", reason="the s3 extra (django-storages, boto3) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] (a dev dependency) is not installed")
from botocore.config import Config  # noqa: E402  (botocore comes with boto3)
from botocore.response import StreamingBody  # noqa: E402
from storages.backends.s3 import S3Storage  # noqa: E402

pytestmark = pytest.mark.django_db

SETTINGS_FILE = os.path.join(django_settings.BASE_DIR, "ip2a", "settings.py")
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def load_settings(monkeypatch, **env) -> dict:
    """Run the settings module with these environment variables (and no other ATTACHMENTS_S3_*); return its
    names. The environment is put back at once, so nothing of it reaches other tests."""
    with monkeypatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("ATTACHMENTS_S3_")]:
            patch.delenv(name)
        patch.setenv("DATABASE_URL", "postgresql://ip2a@db.invalid:5432/ip2a")  # parsed, never connected to
        for name, value in env.items():
            patch.setenv(name, value)
        return runpy.run_path(SETTINGS_FILE)


# --- Settings ----------------------------------------------------------------------------------------------


def test_attachments_stay_on_the_filesystem_without_a_bucket(monkeypatch, tmp_path):
    names = load_settings(monkeypatch, ATTACHMENTS_DIR=str(tmp_path))

    assert names["STORAGES"]["attachments"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert names["STORAGES"]["attachments"]["OPTIONS"]["location"] == tmp_path
    assert names["ATTACHMENTS_S3_SIGNED_URL_SECONDS"] == 0


def test_a_bucket_makes_the_attachments_a_private_s3_storage(monkeypatch):
    names = load_settings(
        monkeypatch,
        ATTACHMENTS_S3_BUCKET="ip2a-files",
        ATTACHMENTS_S3_ENDPOINT_URL="https://s3.example.net",
        ATTACHMENTS_S3_REGION="eu-central-1",
        ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION="AES256",
        ATTACHMENTS_S3_SIGNED_URL_SECONDS="300",
    )

    entry = names["STORAGES"]["attachments"]
    assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
    assert {
        key: entry["OPTIONS"][key]
        for key in (
            "bucket_name",
            "endpoint_url",
            "region_name",
            "access_key",
            "secret_key",
            "location",
            "default_acl",
            "querystring_auth",
            "custom_domain",
            "file_overwrite",
            "object_parameters",
        )
    } == {
        "bucket_name": "ip2a-files",
        "endpoint_url": "https://s3.example.net",
        "region_name": "eu-central-1",
        "access_key": None,  # boto3's default chain
        "secret_key": None,
        "location": "attachments",
        "default_acl": None,
        "querystring_auth": True,
        "custom_domain": None,
        "file_overwrite": False,
        "object_parameters": {"ServerSideEncryption": "AES256"},
    }
    assert names["ATTACHMENTS_S3_SIGNED_URL_SECONDS"] == 300


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ATTACHMENTS_S3_ACCESS_KEY_ID": "AKIA"}, "ATTACHMENTS_S3_ACCESS_KEY_ID set without ATTACHMENTS_S3_BUCKET"),
        ({"ATTACHMENTS_S3_SIGNED_URL_SECONDS": "60"}, "ATTACHMENTS_S3_SIGNED_URL_SECONDS set without"),
        (
            {"ATTACHMENTS_S3_BUCKET": "b", "ATTACHMENTS_S3_ACCESS_KEY_ID": "AKIA"},
            "Set both ATTACHMENTS_S3_ACCESS_KEY_ID and ATTACHMENTS_S3_SECRET_ACCESS_KEY, or neither",
        ),
        (
            {"ATTACHMENTS_S3_BUCKET": "b", "ATTACHMENTS_S3_ENDPOINT_URL": "s3.example.net"},
            "ATTACHMENTS_S3_ENDPOINT_URL must be an https:// \\(or http://\\) URL",
        ),
        (
            {"ATTACHMENTS_S3_BUCKET": "b", "ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION": "yes"},
            "ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION must be AES256, aws:kms or empty",
        ),
        (
            {"ATTACHMENTS_S3_BUCKET": "b", "ATTACHMENTS_S3_SIGNED_URL_SECONDS": "604801"},
            "ATTACHMENTS_S3_SIGNED_URL_SECONDS must be 0 \\(stream\\) to 604800",
        ),
    ],
)
def test_an_incomplete_s3_configuration_is_refused(monkeypatch, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(monkeypatch, **env)


def test_a_bucket_without_the_s3_extra_installed_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what find_spec reports for a package that is not there

    with pytest.raises(ImproperlyConfigured, match="django-storages and boto3 are not installed: install the s3"):
        load_settings(monkeypatch, ATTACHMENTS_S3_BUCKET="ip2a-files")


# --- A bucket on moto's S3 server --------------------------------------------------------------------------


@dataclass
class Bucket:
    name: str
    client: object  # a boto3 S3 client of the test's own, to look into the bucket past the app
    storage: object  # storages["attachments"], the app's S3Storage
    endpoint: str

    def keys(self) -> list[str]:
        return sorted(entry["Key"] for entry in self.client.list_objects_v2(Bucket=self.name).get("Contents", ()))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def put(self, key: str, content: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=content)


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch):
    """A fresh bucket, and STORAGES["attachments"] pointing at it as the settings module builds it from
    ATTACHMENTS_S3_*. The settings fixture puts STORAGES back (and Django's storages handler drops its cached
    instance), monkeypatch the model field's storage: nothing S3 outlives the test."""
    name = f"ip2a-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, **KEYS)
    client.create_bucket(Bucket=name)
    names = load_settings(
        monkeypatch,
        ATTACHMENTS_S3_BUCKET=name,
        ATTACHMENTS_S3_ENDPOINT_URL=s3_endpoint,
        ATTACHMENTS_S3_REGION="us-east-1",
        ATTACHMENTS_S3_ACCESS_KEY_ID="testing",
        ATTACHMENTS_S3_SECRET_ACCESS_KEY="testing",
    )
    settings.STORAGES = {**settings.STORAGES, "attachments": names["STORAGES"]["attachments"]}
    settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS = 0
    storage = storages["attachments"]
    # Both file fields resolve their storage when their model is built (the history event model has its own).
    for model in (Attachment, Attachment.pgh_event_model):
        monkeypatch.setattr(model._meta.get_field("file"), "storage", storage)
    return Bucket(name, client, storage, s3_endpoint)


def upload_url(target):
    meta = target._meta
    return reverse("attachments:attachment_upload", args=[meta.app_label, meta.model_name, target.pk])


def download_url(attachment):
    return reverse("attachments:attachment_download", args=[attachment.pk])


def post_upload(client, target, name, content):
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return client.post(upload_url(target), {"file": upload, "category": "general", "description": ""})


def test_upload_writes_the_file_into_the_bucket_under_the_prefix(bucket, role_client):
    member = MemberFactory()

    response = post_upload(role_client("staff"), member, "dues.pdf", PDF_BYTES)

    assert (response.status_code, response["Location"]) == (302, member.get_absolute_url())
    attachment = Attachment.objects.get()
    assert attachment.file.name.startswith(f"member/{attachment.created_at:%Y}/")
    assert bucket.keys() == [f"attachments/{attachment.file.name}"]
    assert bucket.read(f"attachments/{attachment.file.name}") == PDF_BYTES
    assert (attachment.size, attachment.sha256) == (len(PDF_BYTES), hashlib.sha256(PDF_BYTES).hexdigest())


def test_upload_of_a_large_file_counts_and_hashes_every_byte_once(bucket, role_client):
    # Past boto3's 8 MB threshold the upload goes in parts, read (and re-read for checksums) through read().
    content = PDF_BYTES + os.urandom(9 * 1024 * 1024)

    response = post_upload(role_client("staff"), MemberFactory(), "scan.pdf", content)

    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert (attachment.size, attachment.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert bucket.read(f"attachments/{attachment.file.name}") == content


@pytest.mark.parametrize("size", [1000, 9 * 1024 * 1024])  # one request, and an upload in parts
def test_upload_stops_once_past_the_size_limit_and_leaves_no_object(bucket, monkeypatch, size):
    monkeypatch.setattr(attachments.services, "MAX_SIZE", size - 10)  # the declared size lied
    content = attachments.services.HashingFile(SimpleUploadedFile("a.pdf", PDF_BYTES + bytes(size)))

    with pytest.raises(ValidationError, match="larger than the 50 MB limit"):
        bucket.storage.save("member/2026/01/a.pdf", content)

    assert bucket.keys() == []


def test_upload_refused_by_a_rule_leaves_nothing_in_the_bucket(bucket, role_client):
    response = post_upload(role_client("staff"), MemberFactory(), "fake.pdf", b"not a pdf at all")

    assert response.status_code == 400
    assert (Attachment.objects.count(), bucket.keys()) == (0, [])


STORE_FAILED = "The file could not be stored; nothing was saved. Try again or tell an administrator."


def use_storage(monkeypatch, storage) -> None:
    for model in (Attachment, Attachment.pgh_event_model):
        monkeypatch.setattr(model._meta.get_field("file"), "storage", storage)


def refuse(bucket, operation: str) -> None:
    """Make S3 answer ``operation`` with 403 Access Denied, as it does when the credentials lack a grant."""

    def forbidden(**kwargs):
        error = {"Code": "AccessDenied", "Message": "Access Denied"}
        return SimpleNamespace(status_code=403), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    # The client the storage uploads with; a response returned here replaces the request to the server.
    bucket.storage.bucket.meta.client.meta.events.register(f"before-call.s3.{operation}", forbidden)


def test_upload_to_a_missing_bucket_is_refused_with_a_message_and_leaves_no_row(bucket, role_client):
    bucket.client.delete_bucket(Bucket=bucket.name)

    response = post_upload(role_client("staff"), MemberFactory(), "dues.pdf", PDF_BYTES)

    assert response.status_code == 400
    assert STORE_FAILED in response.content.decode()
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize(
    ("operation", "size"),
    [
        ("HeadObject", 0),  # the existence check, refused without s3:ListBucket (docs/deploy.md)
        ("PutObject", 0),
        ("CompleteMultipartUpload", 9 * 1024 * 1024),  # a large file's parts are uploaded, then refused
    ],
)
def test_upload_refused_by_the_bucket_is_reported_and_leaves_no_row_nor_object(bucket, role_client, operation, size):
    refuse(bucket, operation)

    response = post_upload(role_client("staff"), MemberFactory(), "scan.pdf", PDF_BYTES + bytes(size))

    assert response.status_code == 400
    assert STORE_FAILED in response.content.decode()
    assert (Attachment.objects.count(), bucket.keys()) == (0, [])
    assert bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


def test_upload_while_the_endpoint_is_down_is_reported_and_leaves_no_row(bucket, role_client, monkeypatch):
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = S3Storage(
        bucket_name=bucket.name,
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        location="attachments",
        file_overwrite=False,
        client_config=Config(retries={"total_max_attempts": 1}, signature_version="s3v4"),  # fail at once
    )
    use_storage(monkeypatch, down)

    response = post_upload(role_client("staff"), MemberFactory(), "dues.pdf", PDF_BYTES)

    assert response.status_code == 400
    assert STORE_FAILED in response.content.decode()
    assert (Attachment.objects.count(), bucket.keys()) == (0, [])


def fail_whole_download(self, name, mode="rb"):
    raise AssertionError(f"{name} was downloaded whole before being sent")


def test_download_streams_the_object_through_the_app_and_logs_it(bucket, client, make_user, monkeypatch):
    user = make_user("staff")
    client.force_login(user)
    attachment = AttachmentFactory(original_name="Résumé Ana.pdf")

    # S3Storage.open would download the whole object before the first byte is sent: the view must not use it.
    monkeypatch.setattr(S3Storage, "_open", fail_whole_download)
    reads = []  # the sizes asked of a GET's body
    read = StreamingBody.read
    monkeypatch.setattr(StreamingBody, "read", lambda body, amt=None: reads.append(amt) or read(body, amt))

    response = client.get(download_url(attachment))
    unread = list(reads)
    content = b"".join(response.streaming_content)

    assert response.status_code == 200
    assert unread == []  # nothing is read from the bucket before the response is sent…
    assert reads == [AttachmentDownloadView.block_size] * 2  # …then a block at a time, until the empty read
    assert content == PDF_BYTES
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20Ana.pdf"
    assert (response["Content-Type"], response["Content-Length"]) == ("application/pdf", str(len(PDF_BYTES)))
    assert response["Cache-Control"] == "private, no-store"
    log = AccessLog.objects.get()
    assert (log.action, log.user, log.target_id) == ("download", user, attachment.pk)
    assert log.target_type == ContentType.objects.get_for_model(Attachment)


@pytest.mark.parametrize("signed_seconds", [0, 120])
def test_download_of_a_missing_object_is_a_404_and_not_logged(bucket, role_client, settings, signed_seconds):
    settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS = signed_seconds
    attachment = AttachmentFactory()
    bucket.client.delete_object(Bucket=bucket.name, Key=f"attachments/{attachment.file.name}")

    response = role_client("staff").get(download_url(attachment))

    assert (response.status_code, AccessLog.objects.count()) == (404, 0)


@pytest.mark.parametrize(("signed_seconds", "operation"), [(0, "GetObject"), (120, "HeadObject")])
def test_a_download_the_bucket_refuses_is_a_503_not_logged(bucket, role_client, settings, signed_seconds, operation):
    settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS = signed_seconds
    attachment = AttachmentFactory()
    refuse(bucket, operation)

    response = role_client("staff").get(download_url(attachment))

    assert (response.status_code, response["Retry-After"], AccessLog.objects.count()) == (503, "60", 0)
    assert b"The file store did not answer" in response.content


def test_download_redirects_to_a_signed_url_that_fetches_the_file(bucket, client, make_user, settings):
    settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS = 120
    user = make_user("staff")
    client.force_login(user)
    attachment = AttachmentFactory(original_name="Résumé Ana.pdf")

    response = client.get(download_url(attachment))

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    url = urlsplit(response["Location"])
    assert (
        f"{url.scheme}://{url.netloc}{url.path}"
        == f"{bucket.endpoint}/{bucket.name}/attachments/{attachment.file.name}"
    )
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Signature"]
    assert AccessLog.objects.get().action == "download"  # logged when the URL is handed out
    with urllib.request.urlopen(response["Location"], timeout=10) as fetched:
        assert fetched.read() == PDF_BYTES
        assert fetched.headers["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20Ana.pdf"
        assert fetched.headers["Content-Type"] == "application/pdf"


def test_download_without_permission_is_refused_with_no_url_and_no_log(bucket, role_client, settings):
    settings.ATTACHMENTS_S3_SIGNED_URL_SECONDS = 120
    attachment = AttachmentFactory()

    response = role_client("read_only").get(download_url(attachment))

    assert response.status_code == 403
    assert "Location" not in response
    assert bucket.name.encode() not in response.content
    assert b"X-Amz" not in response.content
    assert AccessLog.objects.count() == 0


def test_deleting_an_attachment_keeps_its_object_so_it_can_be_restored(bucket, role_client):
    attachment = AttachmentFactory()
    delete_url = reverse("attachments:attachment_delete", args=[attachment.pk])

    response = role_client("staff").post(delete_url, {"reason": "uploaded to the wrong member"})

    assert response.status_code == 302
    attachment.refresh_from_db()
    assert attachment.is_deleted
    assert bucket.keys() == [f"attachments/{attachment.file.name}"]  # soft delete: the file stays
    assert role_client("admin").get(download_url(attachment)).status_code == 200


def test_the_admin_history_of_an_attachment_names_its_file_without_a_link_to_the_bucket(bucket, client, make_user):
    attachment = AttachmentFactory()
    event = Attachment.pgh_event_model.objects.get(pgh_obj_id=attachment.pk)
    client.force_login(make_user("admin", is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:attachments_attachmentevent_change", args=[event.pk]))

    assert response.status_code == 200
    assert attachment.file.name in response.content.decode()
    assert b"X-Amz-Signature" not in response.content
    assert bucket.endpoint.encode() not in response.content


def test_only_a_local_folder_is_a_local_root(bucket, attachments_dir):
    assert local_root(bucket.storage) is None  # its location, "attachments", is a key prefix
    assert local_root(storages["attachments"]) is None
    assert local_root(FileSystemStorage(location=attachments_dir)) == attachments_dir
    assert local_root(InMemoryStorage()) is None  # its path() names a folder that holds none of its files


# --- Integrity checks, listing the bucket ------------------------------------------------------------------


def check(check_id, verify_checksums=False):
    context = CheckContext(today=dt.date(2026, 10, 1), verify_checksums=verify_checksums)
    return run_check(CHECKS[check_id], context)


def test_integrity_reports_a_missing_object_and_a_size_mismatch(bucket):
    missing, shrunk, fine = AttachmentFactory(), AttachmentFactory(), AttachmentFactory()
    bucket.client.delete_object(Bucket=bucket.name, Key=f"attachments/{missing.file.name}")
    bucket.put(f"attachments/{shrunk.file.name}", b"%PDF-")

    assert [issue.object_ids for issue in check("FIL-003")] == [[missing.pk]]
    assert [(issue.object_ids, issue.details["stored_size"]) for issue in check("FIL-004")] == [([shrunk.pk], 5)]
    assert [issue.object_ids for issue in check("FIL-005", verify_checksums=True)] == [[shrunk.pk]]
    assert fine.pk not in {pk for issue in check("FIL-004") for pk in issue.object_ids}


def test_integrity_reports_an_unreferenced_object_and_moves_it_under_quarantine(bucket, monkeypatch):
    monkeypatch.setattr(attachments.integrity, "UNREFERENCED_MIN_AGE", -60)  # the object is brand new
    kept = AttachmentFactory()
    bucket.put("attachments/member/2020/01/stray.pdf", b"stray")
    bucket.put("elsewhere/not-ours.txt", b"outside the prefix")

    issues = check("FIL-007")

    assert [(issue.details["file"], issue.details["size"]) for issue in issues] == [("member/2020/01/stray.pdf", 5)]
    apply_repairs(issues, run_id=CommandRun.objects.create(command="repair").pk)
    assert check("FIL-007") == []
    assert bucket.keys() == sorted(
        [f"attachments/{kept.file.name}", "attachments/quarantine/member/2020/01/stray.pdf", "elsewhere/not-ours.txt"]
    )
    assert bucket.read("attachments/quarantine/member/2020/01/stray.pdf") == b"stray"


def test_integrity_leaves_a_young_unreferenced_object_alone(bucket):
    bucket.put("attachments/member/2020/01/uploading.pdf", b"an upload whose row is not committed yet")

    assert check("FIL-007") == []


# --- Reset, seed, backup and restore ------------------------------------------------------------------------


def test_reset_empties_the_prefix_and_nothing_else_of_the_bucket(bucket):
    AttachmentFactory.create_batch(3)
    bucket.put("elsewhere/not-ours.txt", b"outside the prefix")

    assert empty_attachments_storage() == 3
    assert bucket.keys() == ["elsewhere/not-ours.txt"]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_backup_and_restore_keep_the_files_in_the_bucket(bucket, tmp_path):
    run("seed", "--quick", "--yes", "--as-of", "2026-11-26", "--attachments", "4", "--attachment-bytes", "40000")
    seeded = {f"attachments/{name}" for name in Attachment.objects.values_list("file", flat=True)}
    assert set(bucket.keys()) == seeded
    assert len(seeded) == 4
    size, key = Attachment.objects.values_list("size", "file").first()
    assert bucket.read(f"attachments/{key}") == bytes(size)  # seeded files are zeros, as on disk
    before = domain_digest()
    folder = tmp_path / "backup"

    out = run("backup", "--output", str(folder))

    assert f"the attachments stay in s3://{bucket.name}/attachments/" in out
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["attachments_bucket"] == f"s3://{bucket.name}/attachments/"
    assert [entry["path"] for entry in manifest["files"]] == ["database.dump"]
    assert not (folder / "attachments").exists()

    Member.objects.filter(pk=Member.objects.first().pk).delete()
    out = run("restore", str(folder), "--yes")

    assert f"the attachments in s3://{bucket.name}/attachments/ were left as they are; integrity clean" in out
    assert domain_digest() == before
    assert set(bucket.keys()) == seeded


def test_restore_refuses_a_database_only_backup_where_attachments_are_on_disk(tmp_path, settings, attachments_dir):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "database.dump").write_bytes(b"dump")
    digest = hashlib.sha256(b"dump").hexdigest()
    entry = {"path": "database.dump", "size": 4, "sha256": digest}
    manifest = {"format": 1, "database": dict(entry), "files": [entry], "attachments_bucket": "s3://b/attachments/"}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    (attachments_dir / "kept.pdf").write_bytes(PDF_BYTES)

    with pytest.raises(CommandError, match="it holds the database only \\(its attachments are in s3://b/attachments/"):
        run("restore", str(folder), "--yes")

    assert (attachments_dir / "kept.pdf").read_bytes() == PDF_BYTES


def test_restore_refuses_a_backup_with_files_where_attachments_are_in_a_bucket(bucket, tmp_path):
    folder = tmp_path / "backup"
    (folder / "attachments").mkdir(parents=True)
    (folder / "database.dump").write_bytes(b"dump")
    (folder / "attachments" / "a.pdf").write_bytes(PDF_BYTES)
    dump = {"path": "database.dump", "size": 4, "sha256": hashlib.sha256(b"dump").hexdigest()}
    file = {"path": "attachments/a.pdf", "size": len(PDF_BYTES), "sha256": hashlib.sha256(PDF_BYTES).hexdigest()}
    (folder / MANIFEST).write_text(json.dumps({"format": 1, "database": dict(dump), "files": [dump, file]}))

    with pytest.raises(
        CommandError, match=f"it holds 1 attachment files but this site keeps them in s3://{bucket.name}"
    ):
        run("restore", str(folder), "--yes")


def test_the_storage_is_back_on_the_filesystem_after_the_bucket_tests(attachments_dir):
    storage = Attachment._meta.get_field("file").storage

    assert isinstance(storage, FileSystemStorage)
    assert storage is storages["attachments"]
    assert storage.location == str(attachments_dir)
    assert not any(name.startswith("ATTACHMENTS_S3_") for name in os.environ)
    storage.save("probe.txt", ContentFile(b"x"))
    assert (attachments_dir / "probe.txt").exists()
