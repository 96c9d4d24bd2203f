"""The attachment storage beyond Django's Storage API: streaming a stored file, a short-lived signed download URL,
and listing, copying or deleting every object of an S3-compatible bucket (STORAGES["attachments"] with
ATTACHMENTS_S3_BUCKET set) in bulk. A bucket's files have no local path, so nothing here calls ``path()``."""

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.utils.http import content_disposition_header


@dataclass(frozen=True)
class StoredObject:
    """One object of a bucket listing: its storage name (without the prefix), size and last change."""

    name: str
    size: int
    modified: datetime


def is_bucket(storage) -> bool:
    """Whether ``storage`` is django-storages' S3Storage (an S3-compatible bucket)."""
    # An S3Storage exists only once its module is imported: asking costs the filesystem setup no boto3 import.
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and isinstance(storage, s3.S3Storage)


def local_root(storage) -> Path | None:
    """The folder on this machine that holds the storage's files, or None when they are reached through the
    storage API only."""
    # Not hasattr(storage, "location"): a bucket's location is its key prefix, never a folder. Not "path() works"
    # either: InMemoryStorage answers path() with a folder that holds none of its files.
    return Path(storage.location) if isinstance(storage, FileSystemStorage) else None


def storage_errors(storage) -> tuple[type[Exception], ...]:
    """The exceptions by which the storage says a request failed: OSError, and for a bucket botocore's errors
    too (a refused request such as a 403, a missing bucket, an endpoint that does not answer)."""
    if not is_bucket(storage):
        return (OSError,)
    from botocore.exceptions import BotoCoreError, ClientError  # installed wherever a bucket is in use

    return (OSError, BotoCoreError, ClientError)


def object_key(storage, name: str) -> str:
    """The bucket key of the storage name ``name`` (the prefix joined on, as S3Storage does)."""
    from storages.utils import clean_name, safe_join

    try:
        return safe_join(storage.location, clean_name(name))
    except ValueError:
        raise SuspiciousFileOperation(f"The name {name!r} leaves the storage's prefix.") from None


def _client(storage):
    # The storage's connection is one per thread (its cached ``bucket`` is not): safe in the seed's threads.
    return storage.connection.meta.client


def _missing(error) -> bool:
    return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def open_stream(storage, name: str):
    """Open the stored file ``name`` for one read from start to end: (file object, size in bytes).

    A bucket object comes as the body of its GET, read as it arrives (S3Storage.open would first download the
    whole object). Raises FileNotFoundError when there is no such file.
    """
    if not is_bucket(storage):
        stored = storage.open(name, "rb")
        return stored, stored.size
    from botocore.exceptions import ClientError

    try:
        response = _client(storage).get_object(Bucket=storage.bucket_name, Key=object_key(storage, name))
    except ClientError as exc:
        if _missing(exc):
            raise FileNotFoundError(f"The stored file {name} does not exist.") from exc
        raise
    return response["Body"], response["ContentLength"]


def signed_download_url(storage, name: str, *, filename: str, content_type: str, seconds: int) -> str:
    """A URL that downloads the bucket object ``name`` for ``seconds``, as an attachment called ``filename``
    with ``content_type`` (S3 sets those response headers from the signed query)."""
    parameters = {
        "ResponseContentDisposition": content_disposition_header(True, filename),
        "ResponseContentType": content_type,
        "ResponseCacheControl": "private, no-store",
    }
    return storage.url(name, parameters=parameters, expire=seconds)


def _prefix(storage) -> str:
    return f"{storage.location.strip('/')}/" if storage.location.strip("/") else ""


def bucket_objects(storage, folder: str = "") -> Iterator[StoredObject]:
    """Every object under the storage's prefix (and ``folder``), from one paginated listing: 1,000 keys per
    request, where walking the folders with listdir() and asking each file's size would take a request each."""
    prefix = _prefix(storage)
    paginator = _client(storage).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=f"{prefix}{folder}"):
        for entry in page.get("Contents", ()):
            if not entry["Key"].endswith("/"):  # the empty "folder/" keys S3 consoles create are not files
                yield StoredObject(entry["Key"][len(prefix) :], entry["Size"], entry["LastModified"])


def bucket_copy(storage, source: str, target: str) -> None:
    """Copy the object ``source`` to ``target`` inside the bucket (server-side, with the storage's object
    parameters such as its server-side encryption)."""
    _client(storage).copy(
        {"Bucket": storage.bucket_name, "Key": object_key(storage, source)},
        storage.bucket_name,
        object_key(storage, target),
        ExtraArgs=storage.get_object_parameters(target),
    )


def bucket_delete(storage, names: list[str]) -> None:
    """Delete the objects ``names``, 1,000 per request; a failed key raises OSError naming it."""
    client = _client(storage)
    for start in range(0, len(names), 1000):
        keys = [{"Key": object_key(storage, name)} for name in names[start : start + 1000]]
        response = client.delete_objects(Bucket=storage.bucket_name, Delete={"Objects": keys, "Quiet": True})
        if errors := response.get("Errors"):
            first = errors[0]
            raise OSError(f"Could not delete {len(errors)} objects, e.g. {first['Key']}: {first.get('Message')}")


def bucket_upload(storage, name: str, content, *, content_type: str) -> None:
    """Write ``content`` (a binary file object) to the object ``name``, replacing any object of that name."""
    extra = {**storage.get_object_parameters(name), "ContentType": content_type}
    _client(storage).upload_fileobj(content, storage.bucket_name, object_key(storage, name), ExtraArgs=extra)


def describe(storage) -> str:
    """Where the storage keeps its files, for messages: ``s3://bucket/prefix`` or the local folder."""
    if is_bucket(storage):
        return f"s3://{storage.bucket_name}/{_prefix(storage)}"
    return str(getattr(storage, "location", type(storage).__name__))
