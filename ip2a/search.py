"""The global search in the header (/search/?q=…): members, students and organizations, grouped by type.

Each group is one bounded query (LIMIT 11: ten shown, the eleventh says there are more) over the records the
user may see, and links to its list filtered by the same words. A member number that matches exactly one
member jumps straight to that member. Search results are not access-logged (DOMAIN.md §6).
"""

import re
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Case, F, Func, IntegerField, Q, Value, When, prefetch_related_objects
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.views.generic import TemplateView

from members.models import MEMBER_NUMBER_PATTERN, Member
from organizations.models import Organization
from training.models import Student

MAX_QUERY_LENGTH = 100
GROUP_SIZE = 10
MIN_PHONE_DIGITS = 4
PHONE_LIKE = re.compile(r"^[\d\s().+\-/]+$")
SEARCH_PERMISSIONS = ("members.view_member", "training.view_student", "organizations.view_organization")


def digits_of(column: str) -> Func:
    """The column with everything but digits removed (phones are free text)."""
    return Func(F(column), Value(r"\D"), Value(""), Value("g"), function="regexp_replace")


def person_match(q: str) -> Q:
    """Names (first or last name prefix; "first last" and "last, first"), email prefix, phone digits."""
    match = Q(last_name__istartswith=q) | Q(first_name__istartswith=q)
    words = q.replace(",", " ").split()
    if len(words) == 2:
        first, second = words
        match |= Q(first_name__istartswith=first, last_name__istartswith=second)
        match |= Q(last_name__istartswith=first, first_name__istartswith=second)
    if " " not in q:
        match |= Q(email__istartswith=q)
    if phone_digits(q):
        match |= Q(phone_digits__contains=phone_digits(q))
    return match


def phone_digits(q: str) -> str:
    """The digits of a query that looks like (part of) a phone number, else ""."""
    digits = re.sub(r"\D", "", q)
    return digits if PHONE_LIKE.match(q) and len(digits) >= MIN_PHONE_DIGITS else ""


def with_phone_digits(queryset, q: str):
    return queryset.annotate(phone_digits=digits_of("phone")) if phone_digits(q) else queryset


def member_number_of(q: str) -> str | None:
    """The query as a stored member number (trimmed, upper-case), or None when it cannot be one."""
    number = q.strip().upper()
    return number if re.match(MEMBER_NUMBER_PATTERN, number) else None


def search_members(q: str):
    match = person_match(q) | Q(member_number__startswith=q.strip().upper())
    return (
        with_phone_digits(Member.objects.all(), q)
        .filter(match)
        .only("pk", "member_number", "first_name", "middle_name", "last_name", "status", "classification", "email")
    )


def search_students(q: str, user):
    return (
        with_phone_digits(Student.objects.visible_to(user), q)
        .filter(person_match(q))
        .only("pk", "first_name", "middle_name", "last_name", "email")
    )


def search_organizations(q: str):
    prefix_first = Case(When(name__istartswith=q, then=Value(0)), default=Value(1), output_field=IntegerField())
    return (
        Organization.objects.filter(name__icontains=q)
        .order_by(prefix_first, "name", "pk")
        .only("pk", "name", "org_type", "city", "state")
    )


def list_url(url_name: str, q: str) -> str | None:
    """The list page filtered by the same words, or None while that page does not exist yet."""
    try:
        return f"{reverse(url_name)}?{urlencode({'q': q})}"
    except NoReverseMatch:
        return None


def route_exists(url_name: str, *args) -> bool:
    try:
        reverse(url_name, args=args)
    except NoReverseMatch:
        return False
    return True


def result_group(key: str, label: str, queryset, list_name: str, q: str, *, detail: str | None = None) -> dict:
    """One group of results: at most GROUP_SIZE rows, whether there are more, and the list behind them."""
    rows = list(queryset[: GROUP_SIZE + 1])
    return {
        "key": key,
        "label": label,
        "results": rows[:GROUP_SIZE],
        "more": len(rows) > GROUP_SIZE,
        "count": len(rows[:GROUP_SIZE]),
        "list_url": list_url(list_name, q),
        "links": detail is None or route_exists(detail, 0),
    }


class SearchView(TemplateView):
    """Search across the records the user's roles may see; an exact member number jumps to the member."""

    template_name = "search.html"
    reads_from_replica = True  # ip2a/routers.py

    def get(self, request, *args, **kwargs):
        user = request.user
        if not any(user.has_perm(permission) for permission in SEARCH_PERMISSIONS):
            raise PermissionDenied("Your role may not search any records.")
        # PostgreSQL text cannot hold NUL characters: drop them rather than fail.
        q = " ".join(request.GET.get("q", "").replace("\x00", "").split())[:MAX_QUERY_LENGTH]
        if q and user.has_perm("members.view_member") and (number := member_number_of(q)):
            exact = list(Member.objects.filter(member_number=number).values_list("pk", flat=True)[:2])
            if len(exact) == 1:
                return HttpResponseRedirect(reverse("members:member_detail", args=exact))
        groups = self.search(q) if q else []
        context = self.get_context_data(q=q, groups=groups, found=sum(group["count"] for group in groups))
        return self.render_to_response(context)

    def search(self, q: str) -> list[dict]:
        user = self.request.user
        prefetch_related_objects([user], "groups")  # students' scope reads the roles
        groups = []
        if user.has_perm("members.view_member"):
            groups.append(result_group("members", "Members", search_members(q), "members:member_list", q))
        if user.has_perm("training.view_student"):
            groups.append(
                result_group(
                    "students",
                    "Students",
                    search_students(q, user),
                    "training:student_list",
                    q,
                    detail="training:student_detail",
                )
            )
        if user.has_perm("organizations.view_organization"):
            groups.append(
                result_group(
                    "organizations", "Organizations", search_organizations(q), "organizations:organization_list", q
                )
            )
        return groups
