"""The shared file cache in a private folder of /dev/shm (ip2a.cache.PrivateFolderCache, chosen by
ip2a.environment.default_cache): the same folder for every process and command, checked on every use, never
read when anyone else could have written to it, and a full folder fails a write."""

import errno
import os
import pickle
import shutil
import stat
import time
import zlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from ip2a import cache as cache_module
from ip2a.cache import FileCache, PrivateFolderCache
from ip2a.environment import FILE_CACHE_ENTRIES, default_cache

OTHER_USER = 54_321  # no account: a user id that is not the test's


@pytest.fixture
def shared_memory(tmp_path):
    """A stand-in for /dev/shm: a folder everyone may write to, with the sticky bit."""
    folder = tmp_path / "shm"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


@pytest.fixture
def var_dir(tmp_path):
    folder = tmp_path / "var"
    folder.mkdir()
    return folder


@pytest.fixture(autouse=True)
def _forget_folders():
    """Each test starts as a new process would: no folder descriptor known."""
    saved = dict(cache_module._folders)
    cache_module._folders.clear()
    yield
    cache_module._folders.clear()
    cache_module._folders.update(saved)


def private_cache(folder, **options) -> PrivateFolderCache:
    return PrivateFolderCache(str(folder), {"OPTIONS": {"MAX_ENTRIES": 100, **options}})


# --- The choice -----------------------------------------------------------------------------------------------


def test_with_room_in_shared_memory_the_cache_is_a_folder_there_named_after_the_data_folder(
    shared_memory, var_dir, tmp_path
):
    entry = default_cache(var_dir, shared_memory=shared_memory)
    again = default_cache(var_dir, shared_memory=shared_memory)
    other_checkout = tmp_path / "other-var"
    other_checkout.mkdir()
    linked = tmp_path / "linked-var"
    linked.symlink_to(var_dir)

    assert entry == again  # every process and command of one checkout: the same folder
    assert entry["BACKEND"] == "ip2a.cache.PrivateFolderCache"
    assert entry["LOCATION"].startswith(f"{shared_memory}/ip2a-cache-{os.stat(var_dir).st_uid}-")
    assert entry["OPTIONS"] == {"MAX_ENTRIES": FILE_CACHE_ENTRIES, "OWNER": os.stat(var_dir).st_uid}
    assert default_cache(other_checkout, shared_memory=shared_memory)["LOCATION"] != entry["LOCATION"]
    assert default_cache(linked, shared_memory=shared_memory)["LOCATION"] == entry["LOCATION"]
    assert default_cache(var_dir, "test-a", shared_memory=shared_memory)["LOCATION"] != entry["LOCATION"]


def test_the_cache_stays_in_the_data_folder_without_a_large_sticky_shared_memory(
    shared_memory, var_dir, tmp_path, monkeypatch
):
    on_disk = {"BACKEND": "ip2a.cache.FileCache", "LOCATION": str(var_dir / "cache" / "test-a")}

    missing = default_cache(var_dir, "test-a", shared_memory=tmp_path / "no-shm")
    shared_memory.chmod(0o777)  # anyone could remove or rename the folder made there
    not_sticky = default_cache(var_dir, "test-a", shared_memory=shared_memory)
    shared_memory.chmod(0o1777)
    monkeypatch.setattr("ip2a.environment.SHARED_MEMORY_SIZE", 1024**5)  # larger than the mount
    too_small = default_cache(var_dir, "test-a", shared_memory=shared_memory)

    for entry in (missing, not_sticky, too_small):
        assert {key: entry[key] for key in on_disk} == on_disk


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_a_command_run_as_root_uses_the_data_folder_owners_cache_and_leaves_entries_it_can_read(
    shared_memory, var_dir
):
    os.chown(var_dir, OTHER_USER, -1)
    entry = default_cache(var_dir, shared_memory=shared_memory)
    store = PrivateFolderCache(entry["LOCATION"], {"OPTIONS": entry["OPTIONS"]})

    store.set("auth-version", "v2")

    assert entry["OPTIONS"]["OWNER"] == OTHER_USER
    assert f"ip2a-cache-{OTHER_USER}-" in entry["LOCATION"]
    assert os.stat(entry["LOCATION"]).st_uid == OTHER_USER
    assert [os.stat(path).st_uid for path in os.scandir(entry["LOCATION"])] == [OTHER_USER]
    assert store.get("auth-version") == "v2"


def test_a_user_other_than_root_uses_a_folder_of_its_own_whoever_owns_the_data_folder(
    shared_memory, var_dir, monkeypatch
):
    # The portal's user may run with a data folder that root made: it cannot give a folder to root, so the
    # folder is its own (and a command run as root uses the data folder owner's, as the test above shows).
    monkeypatch.setattr(os, "geteuid", lambda: OTHER_USER)

    entry = default_cache(var_dir, shared_memory=shared_memory)

    assert os.stat(var_dir).st_uid != OTHER_USER
    assert entry["OPTIONS"]["OWNER"] == OTHER_USER
    assert f"ip2a-cache-{OTHER_USER}-" in entry["LOCATION"]


# --- The folder -----------------------------------------------------------------------------------------------


def test_entries_are_stored_read_and_removed_in_a_folder_only_its_owner_may_open(shared_memory):
    folder = shared_memory / "cache"
    store = private_cache(folder)

    store.set("a", {"rows": [1, 2]})
    assert store.add("a", "other") is False
    assert store.add("b", "second") is True
    assert store.touch("b", 600) is True
    store.set("n", 1)
    assert store.incr("n") == 2

    assert store.get("a") == {"rows": [1, 2]}
    assert store.get("b") == "second"
    assert store.get("n") == 2
    assert store.has_key("a")
    assert not store.has_key("missing")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(path).st_mode) for path in os.scandir(folder)} == {0o600}
    assert store.delete("a") is True
    assert store.get("a") is None
    store.clear()
    assert os.listdir(folder) == []


def test_an_expired_entry_is_not_read_and_is_removed(shared_memory):
    store = private_cache(shared_memory / "cache")
    store.set("brief", "value", 1)
    store.set("kept", "value", None)

    later = time.time() + 5
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache_module.time, "time", lambda: later)
        assert store.get("brief") is None
        assert store.get("kept") == "value"

    assert len(os.listdir(shared_memory / "cache")) == 1


def test_a_full_cache_is_culled_through_the_folder(shared_memory, monkeypatch):
    monkeypatch.setattr(cache_module, "CULL_EVERY", 1)
    store = private_cache(shared_memory / "cache", MAX_ENTRIES=9)
    for index in range(9):
        store.set(f"k{index}", index)
    store.looked = float("-inf")

    store.set("one-more", 10)  # 9 entries at the cap: a third of them go first

    assert len(os.listdir(shared_memory / "cache")) == 7


def test_files_of_writes_that_never_ended_are_removed_when_the_folder_is_listed(shared_memory):
    store = private_cache(shared_memory / "cache")
    store.set("kept", 1)
    abandoned = shared_memory / "cache" / f"{cache_module.TEMPORARY_PREFIX}killed-mid-write"
    abandoned.write_bytes(b"half an entry")
    old = time.time() - cache_module.ABANDONED_SECONDS - 1
    os.utime(abandoned, (old, old))
    in_progress = shared_memory / "cache" / f"{cache_module.TEMPORARY_PREFIX}being-written"
    in_progress.write_bytes(b"an entry on its way")

    assert len(store._list_cache_files()) == 1  # what culling and clearing list

    assert not abandoned.exists()
    assert in_progress.exists()  # a write still under way is left alone
    assert store.get("kept") == 1


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path.mkdir(mode=0o755), "others may open it"),
        (
            lambda path: (path.parent / "real").mkdir(mode=0o700) or path.symlink_to(path.parent / "real"),
            "cannot be opened as a folder",
        ),
        (lambda path: path.write_bytes(b"not a folder"), "cannot be opened as a folder"),
    ],
    ids=["open to others", "a symlink", "a file"],
)
def test_a_folder_anyone_else_could_write_to_is_refused(shared_memory, make, problem):
    folder = shared_memory / "cache"
    make(folder)

    with pytest.raises(ImproperlyConfigured, match=problem):
        private_cache(folder)


def test_a_folder_of_another_user_is_refused(shared_memory):
    folder = shared_memory / "cache"
    folder.mkdir(mode=0o700)

    with pytest.raises(ImproperlyConfigured, match=f"belongs to user id {os.geteuid()}, not {OTHER_USER}"):
        PrivateFolderCache(str(folder), {"OPTIONS": {"OWNER": OTHER_USER}}).get("any")


def test_a_folder_removed_and_made_again_by_someone_else_is_never_read(shared_memory):
    folder = shared_memory / "cache"
    store = private_cache(folder)
    store.set("auth-version", "v1")
    name = store._key_to_file("auth-version")

    shutil.rmtree(folder)  # e.g. systemd-logind at logout
    folder.mkdir()  # someone else's, under the same name, holding an entry they wrote
    folder.chmod(0o777)
    (folder / name).write_bytes(pickle.dumps(None) + zlib.compress(pickle.dumps("forged")))

    for use in (lambda: store.get("auth-version"), lambda: store.set("auth-version", "v2")):
        with pytest.raises(ImproperlyConfigured, match="others may open it"):
            use()


def test_after_the_folder_was_removed_every_process_uses_the_one_made_again(shared_memory):
    folder = shared_memory / "cache"
    worker = private_cache(folder)
    worker.set("auth-version", "v1")
    workers_view = dict(cache_module._folders)  # what a worker process holds: a descriptor of the old folder

    shutil.rmtree(folder)
    cache_module._folders.clear()  # a command in another process
    command = private_cache(folder)
    command.set("auth-version", "v2")  # made again, private
    cache_module._folders.clear()
    cache_module._folders.update(workers_view)  # back in the worker

    assert worker.get("auth-version") == "v2"  # its descriptor named a removed folder: it looked again
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_a_write_that_cannot_land_fails_and_leaves_no_temporary_file(shared_memory, monkeypatch):
    store = private_cache(shared_memory / "cache")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", full)

    with pytest.raises(OSError, match="No space left"):
        store.set("auth-version", "v2")
    assert os.listdir(shared_memory / "cache") == []


def test_the_file_cache_on_disk_is_unchanged(tmp_path):
    store = FileCache(str(tmp_path / "cache"), {"OPTIONS": {"MAX_ENTRIES": 10}})
    store.set("a", 1)

    assert store.get("a") == 1
    assert not isinstance(store, PrivateFolderCache)
