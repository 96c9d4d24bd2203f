"""Locust load-test scenarios (DOMAIN.md §10), run by `manage.py loadtest` (which prepares the pool file named by
$IP2A_LOADTEST_POOL: accounts with ready sessions, id pools, think time, the run's Z number).

Four user types: read_heavy (weight 50, 90% reads), write_heavy (20, 70% writes), mixed (25, 60% reads) and
file_operations (5). A request succeeds on its expected status (200; 302 to the right page after a POST) and a
content check; anything else, a CSRF refusal or a response slower than 30 s is a failure. Writes never collide:
each user updates only its own slice of the member pool, and adds or ends jobs only on members it created
itself (numbers Z + run + worker + counter).
"""

import datetime
import functools
import html
import itertools
import json
import os
import random
import re
from http.cookiejar import Cookie
from urllib.parse import urlencode, urlsplit

from locust import FastHttpUser
from locust.exception import StopUser

from ip2a.loadtest import LOGIN, POOL_ENV, form_fields, z_member_number

LIST_PAGE = '<section id="results"'
MEMBER_URL_RE = re.compile(r"^(?:https?://[^/]+)?/members/(\d+)/$")
ROW_LINK_RE = re.compile(r'<td><a href="/members/\d+/">')
ERROR_RE = re.compile(r'class="(?:errorlist|form-errors)[^"]*"[^>]*>(.*?)</(?:ul|div)>', re.S)
END_JOB_RE = re.compile(r'href="/members/employments/(\d+)/end/"')

# Created members' jobs: ended ones from 1960 in 15-day steps (10 days long), current ones from 2000 in 30-day
# steps, each current job ended 10 days after its start; so no two jobs of a member ever overlap.
ENDED_FROM, ENDED_STEP, ENDED_LENGTH, ENDED_SLOTS = datetime.date(1960, 1, 4), 15, 10, 900
CURRENT_FROM, CURRENT_STEP, CURRENT_LENGTH, CURRENT_SLOTS = datetime.date(2000, 1, 3), 30, 10, 280

_user_numbers = itertools.count()  # per Locust process; combined with the worker index below
_created_numbers = itertools.count()  # created members, contacts and uploads of this process
_pdf_padding = os.urandom(200 * 1024)


@functools.cache
def pool() -> dict:
    path = os.environ.get(POOL_ENV)
    if not path:
        raise RuntimeError(f"${POOL_ENV} is not set: run the load test with `manage.py loadtest`.")
    with open(path) as handle:
        return json.load(handle)


def small_pdf(label: str) -> bytes:
    """A PDF-looking file of 10–200 KB (the portal checks the %PDF- signature, not the rest)."""
    size = random.randint(10 * 1024, 200 * 1024)
    head = f"%PDF-1.4\n% IP2A load test {label}\n".encode()
    return head + _pdf_padding[: size - len(head) - 6] + b"\n%%EOF"


def refusal(response) -> str:
    """What a refused POST says: a CSRF failure, or the form's first error (failures only, so it costs nothing
    on success)."""
    text = response.text or ""
    if response.status_code == 403 and "CSRF" in text:
        return "CSRF refused"
    match = ERROR_RE.search(text)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()[:200] if match else ""


class PortalUser(FastHttpUser):
    """A logged-in staff user; subclasses weigh the operations."""

    abstract = True
    network_timeout = 30.0  # a response slower than 30 s is a failure
    connection_timeout = 30.0

    def wait_time(self):
        low, high = pool()["think_time"]
        return random.uniform(low, high)

    def on_start(self):
        data = pool()
        self.worker = getattr(self.environment.runner, "worker_index", 0)
        self.number = next(_user_numbers) * data["workers"] + self.worker  # unique across workers
        self.username, session_key = data["accounts"][self.number % len(data["accounts"])]
        slices = data["member_slices"]
        # The pool members this user alone updates (and attaches files to).
        self.slice = data["members"][self.number :: slices] if self.number < slices else []
        self.created = []  # members this user created: {"id", "ended", "current", "open"}
        logins = data["form_logins"]
        if logins == "all" or (logins == "1 in 100" and self.number % 100 == 0):
            self.login_by_form(data["password"])
        else:
            self.set_cookie(data["session_cookie"], session_key)

    # --- Plumbing ----------------------------------------------------------------------------------------

    def set_cookie(self, name: str, value: str) -> None:
        host = urlsplit(self.host).hostname or ""
        host = host if "." in host else f"{host}.local"  # how the cookie jar names a dotless host
        self.client.cookiejar.set_cookie(
            Cookie(0, name, value, None, False, host, False, False, "/", True, False, None, True, None, None, {})
        )

    def page(self, url: str, name: str, *, expect: str | None = None, pattern: re.Pattern | None = None):
        """GET a page; success on 200 and the expected content. Returns the text, or None on failure."""
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                where = response.headers.get("location") if response.status_code in (301, 302) else ""
                response.failure(f"status {response.status_code} {where or ''}".strip())
                return None
            text = response.text or ""
            if expect is not None and expect not in text:
                response.failure(f"no {expect!r} in the page")
                return None
            if pattern is not None and not pattern.search(text):
                response.failure(f"nothing matching {pattern.pattern!r} in the page")
                return None
            response.success()
            return text

    def form(self, url: str, name: str) -> dict | None:
        """GET a form page; its fields (with the CSRF token), or None on failure."""
        text = self.page(url, f"{name}: form", expect="csrfmiddlewaretoken")
        return form_fields(text) if text is not None else None

    def submit(self, url: str, name: str, data: dict, *, redirect: re.Pattern | str, files=None):
        """POST a form; success on 302 to the expected page. Returns the redirect's match, or None on failure."""
        body = {key: value for key, value in data.items() if value is not None}
        with self.client.post(
            url, data=body, files=files, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 302:  # status 0 (no answer: a timeout) has no headers at all
                response.failure(f"status {response.status_code} {refusal(response)}".strip())
                return None
            location = response.headers.get("location") or ""
            match = redirect.search(location) if isinstance(redirect, re.Pattern) else redirect == location
            if not match:
                response.failure(f"redirected to {location!r}")
                return None
            response.success()
            return match

    def unique(self) -> int:
        counter = next(_created_numbers)
        if counter >= 100_000:
            raise StopUser()  # the run's member numbers for this worker are used up
        return counter

    def login_by_form(self, password: str) -> None:
        fields = self.form("/accounts/login/", LOGIN)
        if fields is None:
            return
        fields.update(username=self.username, password=password)
        self.submit("/accounts/login/", LOGIN, fields, redirect=re.compile(r"^(?!.*/accounts/login/)"))

    # --- Reads -------------------------------------------------------------------------------------------

    def member_list(self):
        page = random.randint(1, pool()["member_pages"])
        self.page("/members/" + (f"?page={page}" if page > 1 else ""), "member list", expect=LIST_PAGE)

    def member_list_filtered(self):
        data = pool()
        key = random.choice(("status", "classification"))
        value = random.choice(data["statuses"] if key == "status" else data["classifications"])
        self.page(f"/members/?{key}={value}", "member list filtered", expect=LIST_PAGE)

    def member_search(self):
        _pk, number, last_name = random.choice(pool()["members"])
        if random.random() < 0.5 or len(last_name) < 3:
            self.page(f"/members/?{urlencode({'q': number})}", "member search", expect=f">{number}</a>")
        else:
            self.page(f"/members/?{urlencode({'q': last_name[:3]})}", "member search", pattern=ROW_LINK_RE)

    def member_detail(self):
        pk, number, _name = random.choice(pool()["members"])
        self.page(f"/members/{pk}/", "member detail", expect=number)

    def organization_list(self):
        page = random.randint(1, pool()["organization_pages"])
        self.page("/organizations/" + (f"?page={page}" if page > 1 else ""), "organization list", expect=LIST_PAGE)

    def student_list(self):
        page = random.randint(1, pool()["student_pages"])
        url = "/training/students/" + (f"?page={page}" if page > 1 else "")
        self.page(url, "student list", expect=LIST_PAGE)

    # --- Writes ------------------------------------------------------------------------------------------

    def update_member(self):
        """Change the phone and notes of a member only this user updates."""
        if self.slice:
            pk = random.choice(self.slice)[0]
        else:
            member = self.own_member()
            if member is None:
                return
            pk = member["id"]
        fields = self.form(f"/members/{pk}/edit/", "update member")
        if fields is None:
            return
        counter = self.unique()
        fields.update(
            phone=f"555-{random.randint(100, 999)}-{random.randint(1000, 9999)}",
            notes=f"Load test update {counter} by {self.username}",
        )
        self.submit(f"/members/{pk}/edit/", "update member", fields, redirect=f"/members/{pk}/")

    def create_member(self):
        fields = self.form("/members/new/", "create member")
        if fields is None:
            return None
        counter = self.unique()
        fields.update(
            member_number=z_member_number(pool()["run_prefix"], self.worker, counter),
            first_name="Load",
            last_name=f"Test {counter}",
            status="active",
            classification="journeyman",
            notes=f"Created by the load test ({self.username}).",
        )
        match = self.submit("/members/new/", "create member", fields, redirect=MEMBER_URL_RE)
        if not match:
            return None
        member = {"id": int(match.group(1)), "ended": 0, "current": 0, "open": False}
        self.created.append(member)
        return member

    def own_member(self, *, ended: bool = False, current: bool = False):
        """A member this user created with room for another ended or current job; creates one if needed."""
        for member in reversed(self.created):
            if (not ended or member["ended"] < ENDED_SLOTS) and (not current or member["current"] < CURRENT_SLOTS):
                return member
        return self.create_member()

    def add_employment(self):
        """Add an ended job far in the past, or a current job (ending the open one the day before)."""
        if random.random() < 0.5:
            member = self.own_member(ended=True)
            if member is None:
                return
            start = ENDED_FROM + datetime.timedelta(days=ENDED_STEP * member["ended"])
            dates = {"start_date": start, "end_date": start + datetime.timedelta(days=ENDED_LENGTH)}
            slot = ("ended", None)
        else:
            member = self.own_member(current=True)
            if member is None:
                return
            start = CURRENT_FROM + datetime.timedelta(days=CURRENT_STEP * member["current"])
            dates = {"start_date": start, "end_date": None}
            slot = ("current", True)
        url = f"/members/{member['id']}/employments/new/"
        fields = self.form(url, "add employment")
        if fields is None:
            return
        fields.update(
            organization=str(random.choice(pool()["employers"])),
            start_date=dates["start_date"].isoformat(),
            end_date=dates["end_date"].isoformat() if dates["end_date"] else "",
            job_title="Inside wireman",
            hourly_rate=f"{random.randint(18, 75)}.{random.randint(0, 99):02d}",
            notes="Load test job",
        )
        if dates["end_date"] is None:
            fields["end_current"] = "on"  # ends the open job, if any, the day before (ignored without one)
        key, opened = slot
        member[key] += 1  # the slot is used whatever the answer, so a retry never overlaps it
        if self.submit(url, "add employment", fields, redirect=f"/members/{member['id']}/") and opened:
            member["open"] = True

    def end_employment(self):
        """End the current job of a member this user created (adding one first when it has none)."""
        member = next((member for member in reversed(self.created) if member["open"]), None)
        if member is None:
            member = self.own_member(current=True)
            if member is None:
                return
            start = CURRENT_FROM + datetime.timedelta(days=CURRENT_STEP * member["current"])
            member["current"] += 1
            fields = self.form(f"/members/{member['id']}/employments/new/", "add employment")
            if fields is None:
                return
            fields.update(
                organization=str(random.choice(pool()["employers"])),
                start_date=start.isoformat(),
                end_date="",
                job_title="Inside wireman",
                end_current="on",
            )
            if not self.submit(
                f"/members/{member['id']}/employments/new/",
                "add employment",
                fields,
                redirect=f"/members/{member['id']}/",
            ):
                return
            member["open"] = True
        text = self.page(f"/members/{member['id']}/", "member detail", pattern=END_JOB_RE)
        if text is None:
            return
        job = END_JOB_RE.search(text).group(1)
        fields = self.form(f"/members/employments/{job}/end/", "end employment")
        if fields is None:
            return
        start = CURRENT_FROM + datetime.timedelta(days=CURRENT_STEP * (member["current"] - 1))
        fields.update(end_date=(start + datetime.timedelta(days=CURRENT_LENGTH)).isoformat(), reason="Load test")
        member["open"] = False
        self.submit(f"/members/employments/{job}/end/", "end employment", fields, redirect=f"/members/{member['id']}/")

    def add_contact(self):
        """Add a contact (never primary) to an organization."""
        pk = random.choice(pool()["organizations"])
        url = f"/organizations/{pk}/contacts/new/"
        fields = self.form(url, "add contact")
        if fields is None:
            return
        counter = self.unique()
        fields.pop("is_primary", None)
        fields.update(
            first_name="Load",
            last_name=f"Contact {counter}",
            title="Load test",
            phone=f"555-{random.randint(100, 999)}-{random.randint(1000, 9999)}",
            email=f"{self.username}-{self.worker}-{counter}@loadtest.example.org",
        )
        self.submit(url, "add contact", fields, redirect=f"/organizations/{pk}/")

    # --- Files -------------------------------------------------------------------------------------------

    def list_attachments(self):
        data = pool()
        pk = random.choice(data["attachments"])[1] if data["attachments"] else random.choice(data["members"])[0]
        self.page(f"/members/{pk}/", "attachments list", expect=f'id="attachments-members-member-{pk}"')

    def upload_attachment(self):
        pk = random.choice(self.slice)[0] if self.slice else random.choice(pool()["members"])[0]
        url = f"/attachments/members/member/{pk}/new/"
        fields = self.form(url, "upload attachment")
        if fields is None:
            return
        counter = self.unique()
        fields.update(category="general", description=f"Load test upload {counter}")
        name = f"loadtest-{self.worker}-{counter}.pdf"
        files = {"file": (name, small_pdf(name), "application/pdf")}
        self.submit(url, "upload attachment", fields, files=files, redirect=f"/members/{pk}/")

    def download_attachment(self):
        data = pool()
        if not data["attachments"]:
            return self.list_attachments()
        pk = random.choice(data["attachments"])[0]
        with self.client.get(
            f"/attachments/{pk}/download/", name="download attachment", allow_redirects=False, catch_response=True
        ) as response:
            disposition = response.headers.get("content-disposition") or ""
            if response.status_code == 302 and response.headers.get("location"):
                response.success()  # a signed URL of the bucket (ATTACHMENTS_S3_SIGNED_URL_SECONDS): not fetched
            elif response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif not disposition.startswith("attachment"):
                response.failure("not sent as an attachment")
            else:
                response.success()


READS = [
    PortalUser.member_list,
    PortalUser.member_list_filtered,
    PortalUser.member_search,
    PortalUser.member_detail,
    PortalUser.organization_list,
    PortalUser.student_list,
]
WRITES = [
    PortalUser.create_member,
    PortalUser.update_member,
    PortalUser.add_employment,
    PortalUser.end_employment,
    PortalUser.add_contact,
]


def mix(reads: int, writes: int, write_tasks=WRITES) -> dict:
    """Task weights giving ``reads`` % reads and ``writes`` % writes, evenly within each list."""
    weights = {task: reads / len(READS) for task in READS}
    for task in write_tasks:
        weights[task] = weights.get(task, 0) + writes / len(write_tasks)
    scale = 1000  # Locust wants integer weights
    return {task: round(weight * scale) for task, weight in weights.items()}


class ReadHeavyUser(PortalUser):
    weight = 50
    tasks = mix(90, 10, [PortalUser.update_member])


class WriteHeavyUser(PortalUser):
    weight = 20
    tasks = mix(30, 70)


class MixedUser(PortalUser):
    weight = 25
    tasks = mix(60, 40)


class FileOperationsUser(PortalUser):
    weight = 5
    tasks = {PortalUser.list_attachments: 1, PortalUser.upload_attachment: 1, PortalUser.download_attachment: 1}
