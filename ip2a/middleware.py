"""Project-wide middleware that belongs to no single app."""

import time

from django.conf import settings

RENEW_AFTER_SECONDS = 60


class SessionIdleMiddleware:
    """End a session after SESSION_IDLE_SECONDS without a request.

    The session cookie and row expire SESSION_COOKIE_AGE (= the idle limit) after their last save; an
    authenticated request renews them, at most once a minute so that reads do not write a session row
    every time.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get("last_seen", 0)
            if now - last_seen >= min(RENEW_AFTER_SECONDS, settings.SESSION_IDLE_SECONDS):
                request.session["last_seen"] = now
        return self.get_response(request)
