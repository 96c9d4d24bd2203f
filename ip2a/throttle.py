"""Login throttling: the portal's login view, which refuses a username and client address pair for a while
after repeated failed sign-ins. The Django admin's login URL forwards here, so one throttle covers both.

The rule: after LOGIN_FAILURE_LIMIT failures for one username (compared lower-cased) from one address within
LOGIN_LOCKOUT_SECONDS, that pair is refused for LOGIN_LOCKOUT_SECONDS from its last failure, with HTTP 429 and
the login page. While refused, the password is not checked at all (a correct one is refused too) and no
further failures are counted, so the refusal ends on time. Once it ends, every earlier failure is older than
the window, so counting starts afresh. A successful sign-in deletes the pair's failures.

Failures are rows of audit.LoginFailure, so every worker sees the same count; each check is one indexed read
of at most LOGIN_FAILURE_LIMIT rows. Two requests racing past the check can each add a failure (the limit is
then exceeded by that many guesses, never more). Failures and refusals are logged to ``ip2a.security``, with
the username and the address.
"""

import logging
import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import LoginFailure

logger = logging.getLogger("ip2a.security")

USERNAME_LENGTH = LoginFailure._meta.get_field("username").max_length
IP_LENGTH = LoginFailure._meta.get_field("ip").max_length


def throttle_key(request, username: str) -> tuple[str, str]:
    """The (username, address) pair a sign-in is counted under: the username in the Unicode form Django's login
    compares (NFKC, so full-width or mathematical look-alikes of one name share its count), stripped and
    case-folded, and the client address RequestIdMiddleware worked out (proxy-aware), both cut to their
    column's length."""
    name = unicodedata.normalize("NFKC", username).strip().casefold()
    return name[:USERNAME_LENGTH], request.client_ip[:IP_LENGTH]


def locked_until(username: str, ip: str):
    """When the pair's refusal ends, or None when it may try to sign in now."""
    limit, window = settings.LOGIN_FAILURE_LIMIT, timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    times = list(
        LoginFailure.objects.for_pair(username, ip)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(times) < limit:
        return None
    last, first = times[0], times[-1]
    if last - first >= window:  # the last `limit` failures are spread wider than the window
        return None
    until = last + window
    return until if until > timezone.now() else None


def refusal_message(until) -> str:
    """What a refused visitor reads: why, and for how many (whole, rounded-up) minutes."""
    minutes = max(1, math.ceil((until - timezone.now()).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-ins for this username from your address. Try again in {minutes} {unit}."


def record_failure(username: str, ip: str) -> None:
    """Count one failed sign-in for the pair, and delete failures too old to matter to anyone."""
    now = timezone.now()
    with transaction.atomic():
        LoginFailure.objects.create(username=username, ip=ip, created_at=now)
        LoginFailure.objects.stale(now).delete()


def clear_failures(username: str, ip: str) -> None:
    """Forget the pair's failures (after a successful sign-in)."""
    LoginFailure.objects.for_pair(username, ip).delete()


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, which refuses a locked pair before it authenticates (no password check)."""

    def clean(self):
        username, ip = throttle_key(self.request, self.data.get("username", ""))
        if username and (until := locked_until(username, ip)):
            raise ValidationError(refusal_message(until), code="throttled")
        return super().clean()


class ThrottledLoginView(LoginView):
    """The portal's login page: Django's LoginView with login throttling (module docstring). A refusal answers
    429 with the page and its message; a failed password is counted; a success clears the pair's count."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        clear_failures(*throttle_key(self.request, form.data.get("username", "")))
        return super().form_valid(form)

    def form_invalid(self, form):
        username, ip = throttle_key(self.request, form.data.get("username", ""))
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            logger.warning("Login refused (throttled): username=%r ip=%s", username, ip)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        if username and (
            form.has_error(NON_FIELD_ERRORS, "invalid_login") or form.has_error(NON_FIELD_ERRORS, "inactive")
        ):
            record_failure(username, ip)
            logger.warning("Login failed: username=%r ip=%s", username, ip)
        return super().form_invalid(form)
