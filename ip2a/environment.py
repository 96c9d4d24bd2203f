"""Reading configuration from environment variables: typed getters and URL parsers for the settings module."""

import contextlib
import hashlib
import os
import stat
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable's value with surrounding whitespace removed, or ``default`` when unset."""
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    """Return a boolean variable; anything but the usual spellings of true/false is a configuration error."""
    if name not in os.environ:
        return default
    value = os.environ[name].strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {os.environ[name]!r}.")


# What a release renders from besides its own folders: the packages whose templates and widgets its pages use.
RELEASE_PACKAGES = ("django", "django-filter", "django-import-export", "django-htmx", "django-pghistory")
RELEASE_SUFFIXES = (".py", ".html", ".txt", ".js", ".css", ".svg", ".json")


def release_id(base_dir: Path, folders: list[str]) -> str:
    """A short name of the code being run: $IP2A_RELEASE when set (an image tag, a commit), otherwise a digest of
    the files under ``base_dir``'s ``folders`` (the portal's apps, templates and static files; their tests
    left out) and of RELEASE_PACKAGES' versions. The shared cache's keys start with it (settings.CACHES'
    KEY_PREFIX): pages, fragments and notes a release keeps are rendered by its templates and keyed by its
    statements, so the next release must not be served them."""
    if named := env_str("IP2A_RELEASE"):
        return named
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for package in RELEASE_PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            digest.update(f"{package}=={version(package)}\0".encode())
    for top in folders:
        for folder, subfolders, files in os.walk(base_dir / top):
            subfolders[:] = sorted(name for name in subfolders if name not in {"tests", "__pycache__"})
            for name in sorted(files):
                if name.endswith(RELEASE_SUFFIXES):
                    path = Path(folder, name)
                    digest.update(b"\0" + str(path.relative_to(base_dir)).encode() + b"\0")
                    digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def env_int(name: str, default: int) -> int:
    """Return an integer variable, or ``default`` when unset."""
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    """Return a comma-separated variable as a list of non-empty, stripped items."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def database_from_url(url: str, variable: str = "DATABASE_URL") -> dict:
    """Turn ``postgresql://user:password@host:port/name?options`` into a Django DATABASES entry; errors name
    ``variable``, the setting the URL came from.

    A ``host`` query parameter names a Unix socket folder (libpq's convention); other query parameters
    (sslmode, connect_timeout, …) are passed to psycopg as OPTIONS.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"{variable} must start with postgresql:// (IP2A runs on PostgreSQL only).")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = options.pop("host", "") or unquote(parts.hostname or "")
    port = options.pop("port", "") or (str(parts.port) if parts.port else "")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(f"{variable} must name a database, e.g. postgresql://ip2a@db:5432/ip2a.")
    return {
        "ENGINE": "ip2a.database",  # Django's PostgreSQL backend, health-checked without a round trip
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
    }


# Entries the file cache holds before a cull removes a third of them: the member pages, list pages and notes a
# 4,000-user load test keeps in ten minutes (CACHE_SECONDS) overflowed 5,000, and each cull then threw away
# entries still in use. (Entries are a few KB each on the stress data: tens of MB at the cap.)
FILE_CACHE_ENTRIES = 20_000


# With CACHE_URL unset the file cache is kept in memory (Linux's tmpfs at /dev/shm) when that is large enough:
# every entry the portal keeps is a new file, and creating one on a journaled disk cost the load-test VMs far
# more CPU than in memory (docs/benchmarks.md, sessions 15 and 17). The entries are disposable: a reboot costs
# only the first views after it. The choice depends on nothing that changes while the machine runs (the size of
# the mount, not its free room; the data folder's path and owner), so every process and command makes the same
# one. At the cap the cache holds tens of MB; embedded PostgreSQL's parallel queries use /dev/shm too, so a small
# one (Docker's default is 64 MB) keeps the cache in the data folder.
SHARED_MEMORY = Path("/dev/shm")
SHARED_MEMORY_SIZE = 1024**3  # bytes: the least size of /dev/shm that holds the cache


def default_cache(var_dir: Path, name: str = "", *, shared_memory: Path = SHARED_MEMORY) -> dict:
    """The CACHES entry when CACHE_URL is unset: a private folder of /dev/shm (ip2a.cache.PrivateFolderCache)
    named after the data folder and ``name`` (a test suite's own), when /dev/shm is a sticky tmpfs-like folder
    of at least SHARED_MEMORY_SIZE; otherwise ``var_dir/cache/name``. The folder is the running user's, except
    that root (running a command) uses the data folder owner's: only root may give a folder to another user."""
    fallback = file_cache(str(var_dir / "cache" / name))
    if not sys.platform.startswith("linux"):
        return fallback
    try:
        mount = os.statvfs(shared_memory)
        found = os.stat(shared_memory)
    except OSError:  # no /dev/shm
        return fallback
    # Sticky: no one but its owner may remove or rename the folder made there (else anyone could empty it).
    if mount.f_blocks * mount.f_frsize < SHARED_MEMORY_SIZE or not found.st_mode & stat.S_ISVTX:
        return fallback
    owner = os.geteuid()
    if owner == 0:  # root running a command uses the portal's folder (it can give a new one to the portal)
        with contextlib.suppress(FileNotFoundError):
            owner = os.stat(var_dir).st_uid
    # Two checkouts never share one; a data folder reached through a symlink shares its target's.
    digest = hashlib.sha256(f"{var_dir.resolve()}\0{name}".encode()).hexdigest()[:16]
    folder = shared_memory / f"ip2a-cache-{owner}-{digest}"
    entry = file_cache(str(folder))
    entry["BACKEND"] = "ip2a.cache.PrivateFolderCache"
    entry["OPTIONS"]["OWNER"] = owner
    return entry


def file_cache(location: str) -> dict:
    """The CACHES entry of the shared file cache (ip2a.cache.FileCache) in that folder."""
    return {"BACKEND": "ip2a.cache.FileCache", "LOCATION": location, "OPTIONS": {"MAX_ENTRIES": FILE_CACHE_ENTRIES}}


def cache_from_url(url: str) -> dict:
    """Turn CACHE_URL into a Django CACHES entry: ``redis://…`` or ``rediss://…``, or ``file:///absolute/folder``.

    Per-process memory caches are refused on purpose: an invalidation must reach every worker.
    """
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if parts.scheme == "file":
        # file://var/cache would read as host "var" and folder "/cache": only an empty host (or localhost) is a path.
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ImproperlyConfigured("CACHE_URL file:// needs an absolute folder, e.g. file:///srv/ip2a/cache.")
        return file_cache(unquote(parts.path))
    raise ImproperlyConfigured("CACHE_URL must start with redis://, rediss:// or file:// (never per-process memory).")
