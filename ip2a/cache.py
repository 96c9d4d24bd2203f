"""The default shared cache: Django's file-based cache, culled now and then instead of on every write.

Every worker reads and writes the same folder, so a value one worker stores is seen by all (a per-process
memory cache would not be). Django's FileBasedCache lists the whole folder on every set() to see whether it
holds MAX_ENTRIES yet, a cost that grows with the folder and would dominate its writes under load. FileCache
looks at most once every CULL_SECONDS per process, and only on one set() in CULL_EVERY, so the folder may
overshoot MAX_ENTRIES by what the workers write in that time before it is culled (a cull removes a random
third, Django's rule). Redis (CACHE_URL) needs none of this.

PrivateFolderCache keeps the same files in a folder of a directory that everyone may write to: Linux's shared
memory, /dev/shm (ip2a.environment.default_cache says when). Creating a file there costs a fraction of what it
costs on a journaled disk (docs/benchmarks.md, session 15). The file cache unpickles what it reads, so the
folder must be one that nobody but the portal's user can put files in, on every use and not only when a process
first looked (a folder removed meanwhile could be made again by anyone under the same, guessable name).
"""

import contextlib
import os
import pickle
import secrets
import stat
import threading
import time
import zlib
from hashlib import md5

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.exceptions import ImproperlyConfigured
from django.core.files import locks

CULL_EVERY = 50
CULL_SECONDS = 10


class FileCache(FileBasedCache):
    writes = 0
    looked = float("-inf")  # time.monotonic() of this process's last look at the folder

    def _cull(self):
        self.writes += 1
        if self.writes % CULL_EVERY:
            return
        now = time.monotonic()
        if now - self.looked < CULL_SECONDS:
            return
        self.looked = now
        super()._cull()


# The folders this process has open, by path: (descriptor, (device, inode)). A descriptor is never closed, even
# after its folder was removed and made again: another thread may be using it at that moment, and a closed
# number can be handed to another file. Keeping it open also keeps the removed folder's inode number taken, so
# a folder made later under the same name can never look like it.
_folders: dict[str, tuple[int, tuple[int, int]]] = {}
_folders_lock = threading.Lock()
TEMPORARY_PREFIX = ".tmp-"  # files being written; never listed as entries
ABANDONED_SECONDS = 300  # a file being written this long ago belongs to a write that will never end


class PrivateFolderCache(FileCache):
    """FileCache whose every file operation goes through a descriptor of its folder, opened only after the
    folder proved to be a real folder (not a symlink) owned by OPTIONS["OWNER"] (the data folder's owner: a
    command run as root uses the portal's folder, not one of its own) that no one else may open. Before each
    use the folder's path is looked up again: while it names the folder that descriptor holds, the descriptor
    is used; when it names nothing (removed: at a reboot, or by systemd-logind at its user's logout) the folder
    is made again, owned by OWNER with mode 0700; when it names another folder, that one is checked as above —
    one made by anyone else is refused with ImproperlyConfigured, never read. Every process looks the same up,
    so all of them use the same folder at any moment: a token one of them replaces (the auth version, the
    cache epoch) is never missed by another. A full folder fails set() as Django's file cache does."""

    def __init__(self, dir, params):
        self.owner = params.get("OPTIONS", {}).get("OWNER", os.geteuid())
        super().__init__(dir, params)

    # --- the folder -------------------------------------------------------------------------------------------

    def _createdir(self):
        self._folder()

    def _folder(self) -> int:
        """The descriptor of the cache folder, checked as the class says."""
        try:
            found = os.lstat(self._dir)
            identity = (found.st_dev, found.st_ino)
        except FileNotFoundError:
            identity = None
        known = _folders.get(self._dir)
        if known is not None and known[1] == identity:
            return known[0]
        with _folders_lock:
            known = _folders.get(self._dir)
            if known is None or known[1] != identity:
                known = _folders[self._dir] = self._open_folder()
        return known[0]

    def _open_folder(self) -> tuple[int, tuple[int, int]]:
        try:
            os.mkdir(self._dir, 0o700)
        except FileExistsError:
            pass
        else:
            if os.geteuid() != self.owner:  # root, running a command: the folder is the portal user's
                try:
                    os.chown(self._dir, self.owner, -1)
                except OSError as exc:
                    problem = f"it cannot be given to its owner ({exc.strerror})"
                    raise ImproperlyConfigured(self._refusal(problem)) from exc
        try:
            fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:  # a symlink (ELOOP), not a folder, another user's folder
            raise ImproperlyConfigured(self._refusal(f"it cannot be opened as a folder ({exc.strerror})")) from exc
        found = os.fstat(fd)
        problem = None
        if not stat.S_ISDIR(found.st_mode):
            problem = "it is not a folder"
        elif found.st_uid != self.owner:
            problem = f"it belongs to user id {found.st_uid}, not {self.owner}"
        elif found.st_mode & 0o077:
            problem = f"others may open it (mode {stat.filemode(found.st_mode)})"
        if problem:
            os.close(fd)
            raise ImproperlyConfigured(self._refusal(problem))
        return fd, (found.st_dev, found.st_ino)

    def _refusal(self, problem: str) -> str:
        return (
            f"The shared cache folder {self._dir} is refused: {problem}. The cache unpickles what it reads, so "
            "only a folder of the portal's user that no one else may open can hold it. Remove it, or set "
            "CACHE_URL (file:///absolute/folder or redis://…) to keep the cache elsewhere."
        )

    # --- entries, by name inside the folder -------------------------------------------------------------------

    def _key_to_file(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return md5(key.encode(), usedforsecurity=False).hexdigest() + self.cache_suffix

    def _list_cache_files(self):
        """The entries' names. Listing (to cull, or to clear) also removes the temporary files of writes that
        never ended (a worker killed mid-write): in /dev/shm each holds memory until the next reboot."""
        # A descriptor of its own: listing moves the read position of the descriptor it reads.
        folder = self._folder()
        listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
        try:
            names = os.listdir(listing)
        finally:
            os.close(listing)
        abandoned_before = time.time() - ABANDONED_SECONDS
        for name in names:
            if name.startswith(TEMPORARY_PREFIX):
                with contextlib.suppress(FileNotFoundError):  # renamed into place or removed meanwhile
                    if os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime < abandoned_before:
                        os.unlink(name, dir_fd=folder)
        return [name for name in names if name.endswith(self.cache_suffix)]

    def _delete(self, fname):
        try:
            os.unlink(fname, dir_fd=self._folder())
        except FileNotFoundError:  # removed by another process meanwhile
            return False
        return True

    def _open_entry(self, name: str, flags: int = os.O_RDONLY):
        """The entry's file opened (``rb``, or ``r+b`` with O_RDWR), or None when there is none or it expired
        (an expired one is removed); positioned after its expiry."""
        try:
            fd = os.open(name, flags | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=self._folder())
        except FileNotFoundError:
            return None
        entry = open(fd, "r+b" if flags & os.O_RDWR else "rb")  # noqa: SIM115 (the caller closes it)
        try:
            expiry = pickle.load(entry)
        except EOFError:
            expiry = 0  # an empty file has expired
        except BaseException:
            entry.close()
            raise
        if expiry is not None and expiry < time.time():
            entry.close()
            self._delete(name)
            return None
        return entry

    def get(self, key, default=None, version=None):
        entry = self._open_entry(self._key_to_file(key, version))
        if entry is None:
            return default
        with entry:
            return pickle.loads(zlib.decompress(entry.read()))

    def has_key(self, key, version=None):
        entry = self._open_entry(self._key_to_file(key, version))
        if entry is None:
            return False
        entry.close()
        return True

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        name = self._key_to_file(key, version)
        self._cull()
        folder = self._folder()
        temporary = TEMPORARY_PREFIX + secrets.token_hex(8)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=folder)
        renamed = False
        try:
            with open(fd, "wb") as entry:
                if os.geteuid() != self.owner:  # root, running a command: entries the portal's workers can read
                    os.fchown(entry.fileno(), self.owner, -1)
                self._write_content(entry, timeout, value)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            renamed = True
        finally:
            if not renamed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=folder)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        entry = self._open_entry(self._key_to_file(key, version), os.O_RDWR)
        if entry is None:
            return False
        with entry:
            locks.lock(entry, locks.LOCK_EX)
            try:
                value = pickle.loads(zlib.decompress(entry.read()))
                entry.seek(0)
                self._write_content(entry, timeout, value)
                entry.truncate()
            finally:
                locks.unlock(entry)
        return True
