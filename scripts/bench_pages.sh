#!/usr/bin/env bash
# Throughput of the hottest pages under wrk (docs/benchmarks.md, "Pages under wrk"): the member list, a
# filtered member list and the member page of a member with many jobs, each at 64 connections.
#
#   scripts/bench_pages.sh [PORT] [DURATION]      # a portal must already listen on 127.0.0.1:PORT (default 8000)
#
# It logs in a `bench-staff` user (staff role) by creating its session in the database the portal uses, so
# run it with the same environment as the portal (DATABASE_URL or the embedded server). Needs wrk
# (`apt-get install wrk`). Not for production: it creates a user.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-8000}
DURATION=${2:-12s}
read -r SID MID < <(.venv/bin/python manage.py shell -v 0 -c "
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count
from members.models import Member
user, _ = User.objects.get_or_create(username='bench-staff')
user.groups.set([Group.objects.get(name='staff')])
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
member = Member.objects.annotate(jobs=Count('employments')).filter(jobs__gte=20).order_by('pk').first()
print(session.session_key, member.pk if member else Member.objects.order_by('pk').values_list('pk', flat=True).first())
")
for path in "/members/" "/members/?status=active&classification=journeyman" "/members/$MID/"; do
  status=$(curl -s -o /dev/null -w "%{http_code}" -H "Cookie: sessionid=$SID" "http://127.0.0.1:$PORT$path")
  if [ "$status" != 200 ]; then echo "$path answered $status, not 200: is the portal using the same database?" >&2; exit 1; fi
  result=$(wrk -t2 -c64 -d"$DURATION" -H "Cookie: sessionid=$SID" "http://127.0.0.1:$PORT$path" 2>&1)
  echo "$path  $(echo "$result" | grep Requests/sec)  $(echo "$result" | grep -E '^\s+Latency' | awk '{print "avg",$2,"max",$4}')  $(echo "$result" | grep Non-2xx || true)"
done
