"""gunicorn settings for IP2A (`gunicorn -c gunicorn.conf.py ip2a.wsgi`).

Sync workers: on a 2-core box they beat threaded workers for this CPU-bound, server-rendered portal, and
each closes its connection after the response, so keep-alive timeouts never bite. Load-test results that
back these numbers are in docs/benchmarks.md.
"""

import os

bind = os.environ.get("GUNICORN_BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Measured on the 2-core development VM with wrk at 64 connections against the member list, a filtered list and
# a member page (docs/benchmarks.md, "gunicorn and database connections"): 2, 3 and 4 sync workers are within
# noise of each other, 5 and 8 lose 5-20% to context switching beside PostgreSQL on the same cores, and gthread
# (3 x 4 threads) lost up to half on the member page. Hence sync workers, cores + 1 of them: gunicorn's own, except
# that a worker does not wait for the client to close after each response (ip2a/serving.py says why).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "ip2a.serving.PromptCloseSyncWorker")
# "Cores" are the ones this process may run on: a container pinned to CPUs (cpuset) counts only those, where
# cpu_count() would count the whole host's. A --cpus quota does not show here, so docker-compose.yml sets
# WEB_CONCURRENCY itself; each worker holds a database connection (docs/scaling.md).
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # macOS lacks it
workers = int(os.environ.get("WEB_CONCURRENCY") or cores + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))  # only the gthread worker class uses threads
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "2"))  # seconds; only gthread/async workers keep connections
# Pages answer in milliseconds, but previewing or importing a 20,000-row file takes up to a minute or two.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Connections waiting to be accepted. gunicorn's default (2048) overflowed at 4,000 users: the kernel then drops
# new connections' SYNs and the clients retry after 1, 2, 4… s, so the workers ran dry and the cores idled while
# thousands waited (docs/benchmarks.md, session 12). The kernel caps it at net.core.somaxconn (4096 here).
backlog = int(os.environ.get("GUNICORN_BACKLOG", "4096"))
graceful_timeout = 20
# Recycle workers now and then so a slow leak can never grow without bound; jitter keeps them from
# restarting all at once. Not often: each worker keeps route shapes, kept-page keys, filter forms and
# permission sets in its own memory (each bounded), and a restart drops them and imports Django again. At the
# --target load (300 requests/s over 3 workers) 5,000 requests meant a restart every 50 s; 100,000 is about
# a quarter of an hour there and days at an office's pace.
max_requests = 100_000
max_requests_jitter = 10_000
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log (load tests)
errorlog = "-"
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "127.0.0.1")
control_socket_disable = True  # several portals (make run, load tests) may run side by side
