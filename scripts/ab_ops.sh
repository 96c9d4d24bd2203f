#!/usr/bin/env bash
# Per-operation times of two commits under the same load, in alternating runs (docs/benchmarks.md, session 14):
#
#   scripts/ab_ops.sh BEFORE AFTER [ROUNDS] [USERS] [RUN_TIME] [PORT]     # defaults: 2 400 150s 8124
#
# Each commit is checked out in its own git worktree (sharing this checkout's var/ and .venv/, so the same
# database and cache), and the runs go A1 B1 A2 B2 …: for each, the shared cache is emptied, the portal is
# served from that worktree with an access log of each request's time, `manage.py loadtest --target --users
# USERS --run-time RUN_TIME` runs against it, and the portal is stopped. Then scripts/access_log_ops.py
# compares the runs. Results, logs and loadtest reports stay in a folder it prints. Run it on the dev database
# (IP2A_ENV=dev, or DATABASE_URL) after a seed; the load tests add members, so compare only runs of one call.
# Not for production: it empties the cache and writes to the database.
#
# Two interpreters (or dependency sets) instead of two commits: give both sides the same commit and point
# AB_VENV_A / AB_VENV_B at a virtualenv each (made with that Python: `python3.12 -m venv DIR && DIR/bin/pip
# install -c constraints.txt -e .`); the portal of each side is served from its virtualenv, while the load test
# always runs from this checkout's .venv, so Locust is the same on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ $# -ge 2 ] || { sed -n 2,17p "$0"; exit 2; }
BEFORE=$(git rev-parse --short "$1"); AFTER=$(git rev-parse --short "$2")
ROUNDS=${3:-2}; USERS=${4:-400}; RUN_TIME=${5:-150s}; PORT=${6:-8124}
VENV_A=${AB_VENV_A:-$ROOT/.venv}; VENV_B=${AB_VENV_B:-$ROOT/.venv}
for venv in "$VENV_A" "$VENV_B"; do
  [ -x "$venv/bin/python" ] || { echo "no virtualenv at $venv" >&2; exit 2; }
done
OUT=$(mktemp -d /tmp/ab-ops-XXXX)
export IP2A_ENV=${IP2A_ENV:-dev} DEBUG=false
SERVER=""

cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  for tree in "$OUT/A" "$OUT/B"; do
    [ -d "$tree" ] || continue
    rm -f "$tree/var" "$tree/.venv"
    git worktree remove --force "$tree" 2>/dev/null || true
  done
}
trap cleanup EXIT

for side in A B; do
  commit=$([ $side = A ] && echo "$BEFORE" || echo "$AFTER")
  git worktree add -q --detach "$OUT/$side" "$commit"
  ln -s "$ROOT/var" "$OUT/$side/var"
  ln -s "$([ $side = A ] && echo "$VENV_A" || echo "$VENV_B")" "$OUT/$side/.venv"
done
echo "A = $BEFORE ($("$VENV_A/bin/python" -V)), B = $AFTER ($("$VENV_B/bin/python" -V));" \
  "$ROUNDS rounds of $USERS users for $RUN_TIME; results in $OUT"

logs=()
for round in $(seq "$ROUNDS"); do
  for side in A B; do
    run="$side$round"
    (cd "$OUT/$side" && .venv/bin/python manage.py shell -v 0 -c "from django.core.cache import cache; cache.clear()")
    (cd "$OUT/$side" && GUNICORN_ACCESS_LOG="$OUT/access-$run.log" \
      GUNICORN_CMD_ARGS="--access-logformat '%(m)s %(U)s?%(q)s %(s)s %(D)s'" \
      exec .venv/bin/python manage.py serve --port "$PORT" --no-seed) > "$OUT/serve-$run.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 1; done
    curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null || { echo "$run: the portal did not start" >&2; exit 1; }
    (cd "$OUT/$side" && "$ROOT/.venv/bin/python" manage.py loadtest --target --users "$USERS" --run-time "$RUN_TIME" \
      --host "http://127.0.0.1:$PORT") > "$OUT/load-$run.log" 2>&1 || true
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    echo "$run: $(grep -E '^(Throughput|Failures|CPU per request)' "$OUT/load-$run.log" | tr '\n' ' ')"
    logs+=("$OUT/access-$run.log")
  done
done
scripts/access_log_ops.py "${logs[@]}"
