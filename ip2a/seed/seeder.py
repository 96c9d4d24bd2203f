"""The seed itself: generates every table's rows from one seeded random generator, phase by phase.

Rules (DOMAIN.md §9): deterministic (one ``random.Random(seed)`` drives every choice and seeds Faker; dates
are relative to ``as_of``), clean by construction (no critical or warning integrity finding afterwards), and
fast (COPY with ids reserved from each sequence; attachment files are sparse).
"""

import dataclasses
import datetime as dt
import itertools
import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.db import connection
from faker.providers.person.en_US import Provider as PersonProvider

from attachments.models import TARGET_CATEGORIES, Attachment, AttachmentCategory
from attachments.storage import is_bucket, local_root
from ip2a.caching import tracked_tables
from ip2a.seed import text
from ip2a.seed.loader import BucketFiles, SparseFiles, allocate_ids, copy_rows, zero_digests
from ip2a.seed.volumes import STRESS, Volumes
from members.models import Member, MemberClassification, MemberEmployment, MemberStatus
from members.services import member_convert_graduate
from organizations.models import Organization, OrganizationContact, OrganizationType
from training.models import (
    ApplicationStatus,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Cohort,
    CohortInstructor,
    CohortStatus,
    Credential,
    CredentialStatus,
    Enrollment,
    EnrollmentStatus,
    Instructor,
    JATCApplication,
    Location,
    LocationType,
    RateType,
    Student,
)

OPTIONAL_SHARE = 0.65  # optional fields are filled 45–85% of the time; one share keeps the data plausible
CLASSIFICATION_WEIGHTS = {
    MemberClassification.APPRENTICE_1: 10,
    MemberClassification.APPRENTICE_2: 10,
    MemberClassification.APPRENTICE_3: 8,
    MemberClassification.APPRENTICE_4: 7,
    MemberClassification.APPRENTICE_5: 5,
    MemberClassification.JOURNEYMAN: 40,
    MemberClassification.FOREMAN: 12,
    MemberClassification.RETIREE: 5,
    MemberClassification.HONORARY: 3,
}
ATTENDANCE_WEIGHTS = {
    AttendanceStatus.PRESENT: 85,
    AttendanceStatus.LATE: 5,
    AttendanceStatus.ABSENT: 6,
    AttendanceStatus.EXCUSED: 3,
    AttendanceStatus.EARLY_DEPARTURE: 1,
}
APPLICATION_WEIGHTS = {
    ApplicationStatus.DRAFT: 5,
    ApplicationStatus.SUBMITTED: 15,
    ApplicationStatus.UNDER_REVIEW: 15,
    ApplicationStatus.INTERVIEW_SCHEDULED: 10,
    ApplicationStatus.INTERVIEWED: 10,
    ApplicationStatus.ACCEPTED: 20,
    ApplicationStatus.REJECTED: 10,
    ApplicationStatus.WAITLISTED: 10,
    ApplicationStatus.WITHDRAWN: 5,
}
APPLICATION_ORDER = list(APPLICATION_WEIGHTS)
# Member-number blocks (DOMAIN.md §9): (format, first number, share of new members).
NUMBER_BLOCKS = (("numeric7", 7_000_000, 0.70), ("prefix", 8_000_000, 0.10), ("suffix", 9_000_000, 0.10),
                 ("numeric8", 10_000_000, 0.10))  # fmt: skip
NUMBER_PATTERNS = {
    "numeric7": (r"^[0-9]{7}$", "member_number"),
    "prefix": (r"^[A-K][0-9]{7}$", "substring(member_number from 2)"),
    "suffix": (r"^[0-9]{7}[A-Z]$", "substring(member_number from 1 for 7)"),
    "numeric8": (r"^[0-9]{8}$", "member_number"),
}

# Attachment size profiles: name → (nominal min bytes, nominal max bytes, extensions).
PROFILES = {
    "photo_id": (2_500_000, 5_500_000, ("jpg",)),
    "scan": (200_000, 2_000_000, ("pdf",)),
    "form": (50_000, 500_000, ("pdf",)),
    "word": (100_000, 2_000_000, ("docx",)),
    "spreadsheet": (50_000, 1_000_000, ("xlsx",)),
    "small_image": (100_000, 1_000_000, ("png", "jpg")),
}
# Target shares and the profile mix after a person's first file (the photo ID).
TARGET_SHARES = (
    ("members.member", 0.72),
    ("members.memberemployment", 0.12),
    ("training.student", 0.08),
    ("training.credential", 0.04),
    ("training.enrollment", 0.02),
    ("organizations.organization", 0.02),
)
PROFILE_MIX = {
    "members.member": {"scan": 35, "form": 30, "small_image": 20, "word": 10, "spreadsheet": 5},
    "members.memberemployment": {"scan": 50, "form": 50},
    "training.student": {"scan": 40, "form": 40, "small_image": 20},
    "training.credential": {"scan": 70, "small_image": 30},
    "training.enrollment": {"form": 50, "scan": 50},
    "organizations.organization": {"word": 40, "scan": 40, "spreadsheet": 20},
}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip
MAX_FILE, MIN_FILE = 52_428_800, 1024
SLOTS = 1 << 30  # slot range for targets whose count is known only when their phase has run
TEN_YEARS = 10 * 365 * 86400


@dataclasses.dataclass
class PhaseResult:
    name: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class Seeder:
    """Generates and loads one data set. Call ``run(progress)``; each phase reports (name, rows, seconds)."""

    def __init__(self, volumes: Volumes, *, random_seed: int = 42, as_of: dt.date, files: bool = True):
        self.volumes = volumes
        self.rng = random.Random(random_seed)
        self.files_rng = random.Random(f"{random_seed}:attachments")  # the file plan's own stream
        # Faker's weighted en_US name tables, drawn with our one generator (deterministic, and far cheaper than
        # a Faker call per name).
        self.first_names = _weighted(PersonProvider.first_names)
        self.last_names = _weighted(PersonProvider.last_names)
        self.as_of = as_of
        self.files = files
        self.stamp = dt.datetime.combine(as_of, dt.time(6, 0), tzinfo=ZoneInfo(settings.TIME_ZONE))
        self.results: list[PhaseResult] = []
        # What later phases need from earlier ones.
        self.employer_ids: list[int] = []
        self.organization_ids: list[int] = []
        self.location_ids: list[tuple[int, str]] = []
        self.instructor_ids: list[int] = []
        self.cohorts: list[dict] = []
        self.students: list[dict] = []
        self.enrollments: list[dict] = []
        self.graduates: list[dict] = []  # students with a completed enrollment
        self.credential_ids: list[int] = []
        self.members: list[dict] = []
        self.employment_ids: list[int] = []
        self.number_next: dict[str, int] = {}

    # --- driver -------------------------------------------------------------------------------------------
    def phases(self) -> list[tuple[str, Callable[[Callable[[int], None]], int], int]]:
        """(name, method, expected rows) of every phase, in foreign-key order."""
        v = self.volumes
        jobs = 25 if v.jobs_per_member is None else sum(v.jobs_per_member) / 2
        phases = [
            ("organizations", self.seed_organizations, round(v.organizations * (1 + sum(v.contacts_per_org) / 2))),
            ("training setup", self.seed_training_setup, v.locations + v.instructors + v.cohorts * 3),
            ("students", self.seed_students, v.students * 2),
            ("sessions", self.seed_sessions, v.cohorts * 20 * 20),
            ("credentials", self.seed_credentials, v.students * 2),
            ("members", self.seed_members, v.members - v.converted_graduates),
            ("employments", self.seed_employments, round((v.members - v.converted_graduates) * jobs)),
        ]
        # Graduates convert before attachments are made, so the attachment count is exact and converted
        # members can receive files like any other member.
        phases.append(("converted graduates", self.seed_conversions, v.converted_graduates))
        if self.files and v.attachments:
            phases.append(("attachments", self.seed_attachments, v.attachments))
        return phases

    def run(self, make_progress) -> list[PhaseResult]:
        """Run every phase; ``make_progress(name, total)`` returns (update, close) callables for a bar."""
        self.number_next = self._member_number_starts()
        if self.files and self.volumes.attachments:
            started = time.monotonic()
            self.attachment_plan = self.plan_attachments()
            self.start_files()
            self.results.append(PhaseResult("file plan", len(self.attachment_plan), time.monotonic() - started))
        for name, method, expected in self.phases():
            update, close = make_progress(name, expected)
            started = time.monotonic()
            rows = method(update)
            close()
            self.results.append(PhaseResult(name, rows, time.monotonic() - started))
        return self.results

    def vacuum(self) -> PhaseResult:
        """After the load has committed: VACUUM (ANALYZE) every seeded table and its history event table. The
        planner gets statistics (without them it misjudged how many events a member's jobs have and read a whole
        event table), and the visibility map lets lists read their order index alone: a member list's page 150
        took ~15 ms sorting every member before the table's first vacuum, ~1 ms after (EXPLAIN ANALYZE on the
        stress seed). Autovacuum would get there, but only while a server runs and after its own delay. Inside a
        transaction, where VACUUM cannot run (the tests), the tables are analyzed only."""
        started = time.monotonic()
        events = tracked_tables()
        tables = [name for table in self.tables() for name in (table, events.get(table)) if name]
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f'{command} "{table}"')
        return PhaseResult("vacuum and analyze", len(tables), time.monotonic() - started)

    @staticmethod
    def tables() -> list[str]:
        models = [Organization, OrganizationContact, Location, Instructor, Cohort, CohortInstructor, Student,
                  Enrollment, ClassSession, Attendance, Credential, JATCApplication, Member, MemberEmployment,
                  Attachment]  # fmt: skip
        return [model._meta.db_table for model in models]

    # --- small helpers ------------------------------------------------------------------------------------
    @staticmethod
    def next_code_number(table: str, pattern: str, digits_from: int) -> int:
        """1 + the highest number in the codes matching ``pattern`` (digits from 1-based position on)."""
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT max(substring(code from {digits_from})::int) FROM "{table}" WHERE code ~ %s', [pattern]
            )
            return (cursor.fetchone()[0] or 0) + 1

    def chance(self, share: float) -> bool:
        return self.rng.random() < share

    def pick(self, weights: dict):
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def days_ago(self, low: int, high: int) -> dt.date:
        return self.as_of - dt.timedelta(days=self.rng.randint(low, high))

    def phone(self) -> str:
        return f"({self.rng.randint(200, 989)}) 555-{self.rng.randint(0, 9999):04d}"

    def address(self) -> dict:
        if not self.chance(OPTIONAL_SHARE):
            return {}
        return {
            "address_line1": f"{self.rng.randint(100, 29999)} {self.last_name()} {self.rng.choice(STREET_SUFFIXES)}",
            "address_line2": f"Apt {self.rng.randint(1, 400)}" if self.chance(0.15) else "",
            "city": self.rng.choice(text.CITIES),
            "state": "WA",
            "postal_code": f"98{self.rng.randint(0, 999):03d}",
        }

    def first_name(self) -> str:
        names, cumulative = self.first_names
        return self.rng.choices(names, cum_weights=cumulative)[0]

    def last_name(self) -> str:
        names, cumulative = self.last_names
        return self.rng.choices(names, cum_weights=cumulative)[0]

    def person(self) -> tuple[str, str]:
        return self.first_name(), self.last_name()

    def stamps(self) -> dict:
        return {"created_at": self.stamp, "updated_at": self.stamp}

    # --- organizations and contacts ---------------------------------------------------------------------
    def seed_organizations(self, progress) -> int:
        v = self.volumes
        fixed = [
            ("Electrical Workers Local 101", OrganizationType.UNION),
            ("Cascade Public Utility District", OrganizationType.EMPLOYER),
            ("Northwest Electrical Training Center", OrganizationType.TRAINING_PARTNER),
            ("Puget Sound Electrical JATC", OrganizationType.JATC),
        ]
        extra = v.organizations - len(fixed)
        if v.mode == STRESS:
            employers = min(extra, 149)
            others = [OrganizationType.UNION, OrganizationType.TRAINING_PARTNER, OrganizationType.JATC]
            kinds = [OrganizationType.EMPLOYER] * employers + [others[i % 3] for i in range(extra - employers)]
        elif v.organizations == 5 and v.mode != STRESS and extra == 1:
            kinds = [OrganizationType.EMPLOYER]
        else:
            kinds = [self.rng.choice(OrganizationType.values) for _ in range(extra)]
            if extra and OrganizationType.EMPLOYER not in kinds:
                kinds[0] = OrganizationType.EMPLOYER
        specs = fixed + [(self.organization_name(kind, n), kind) for n, kind in enumerate(kinds)]
        ids = allocate_ids(Organization, len(specs))
        rows = []
        for pk, (name, kind) in zip(ids, specs, strict=True):
            row = {"id": pk, "name": name, "org_type": kind, **self.address(), **self.stamps()}
            if self.chance(OPTIONAL_SHARE):
                row["phone"] = self.phone()
            if self.chance(OPTIONAL_SHARE):
                row["email"] = f"office{pk}@{name.split()[0].lower()}.example.com"
            if self.chance(OPTIONAL_SHARE):
                row["website"] = f"https://www.{name.split()[0].lower()}{pk}.example.com"
            if kind == OrganizationType.EMPLOYER:
                if name == fixed[1][0]:
                    row["salting_score"] = 3
                elif self.chance(v.salting_share):
                    row["salting_score"] = self.rng.randint(1, 5)
                if row.get("salting_score") and self.chance(0.6):
                    row["salting_notes"] = self.rng.choice(text.SALTING_NOTES)
                self.employer_ids.append(pk)
            rows.append(row)
            self.organization_ids.append(pk)
        count = copy_rows(Organization, rows, progress)

        contacts = []
        counts = [self.rng.randint(*v.contacts_per_org) for _ in ids]
        contact_ids = iter(allocate_ids(OrganizationContact, sum(counts)))
        for org_id, n in zip(ids, counts, strict=True):
            for k in range(n):
                first, last = self.person()
                contacts.append(
                    {
                        "id": next(contact_ids),
                        "organization_id": org_id,
                        "first_name": first,
                        "last_name": last,
                        "title": self.rng.choice(text.CONTACT_TITLES) if self.chance(OPTIONAL_SHARE) else "",
                        "phone": self.phone() if self.chance(OPTIONAL_SHARE) else "",
                        "email": f"{first}.{last}.{org_id}{k}@example.com".lower().replace("'", ""),
                        "is_primary": k == 0,
                        **self.stamps(),
                    }
                )
        return count + copy_rows(OrganizationContact, contacts, progress)

    def organization_name(self, kind: str, n: int) -> str:
        city = text.CITIES[n % len(text.CITIES)]
        if kind == OrganizationType.EMPLOYER:
            return f"{self.last_name()} {self.rng.choice(text.EMPLOYER_SUFFIXES)} #{n + 1}"
        if kind == OrganizationType.UNION:
            return f"Electrical Workers Local {200 + n}"
        if kind == OrganizationType.TRAINING_PARTNER:
            return f"{city} Skills Center #{n + 1}"
        return f"{city} Area Electrical JATC #{n + 1}"

    # --- locations, instructors, cohorts ------------------------------------------------------------------
    def seed_training_setup(self, progress) -> int:
        v = self.volumes
        rows = []
        first_code = self.next_code_number("training_location", r"^LOC-[0-9]+$", 5)  # --no-truncate continues
        for index, pk in enumerate(allocate_ids(Location, v.locations)):
            city = text.CITIES[index % len(text.CITIES)]
            if v.mode == STRESS:
                kind, location_type = text.LOCATION_KINDS[index % len(text.LOCATION_KINDS)]
                capacity = self.rng.randint(15, 80)
            else:
                kind, location_type = "Training Center", LocationType.TRAINING_SITE
                capacity = self.rng.randint(20, 60)
            suffix = "" if index < len(text.CITIES) else f" {index // len(text.CITIES) + 1}"
            rows.append(
                {
                    "id": pk,
                    "name": f"{city} {kind}{suffix}",
                    "code": f"LOC-{first_code + index:04d}",
                    "location_type": location_type,
                    "capacity": capacity,
                    **self.address(),
                    **self.stamps(),
                }
            )
            self.location_ids.append((pk, location_type))
        count = copy_rows(Location, rows, progress)

        rows = []
        for pk in allocate_ids(Instructor, v.instructors):
            first, last = self.person()
            rate_type = self.pick({RateType.HOURLY: 70, RateType.DAILY: 15, RateType.FLAT: 10, RateType.SALARY: 5})
            rows.append(
                {
                    "id": pk,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first}.{last}.{pk}@instructors.example.org".lower().replace("'", ""),
                    "phone": self.phone() if self.chance(OPTIONAL_SHARE) else "",
                    "bio": f"{first} has taught electrical safety and the trade for {self.rng.randint(2, 30)} years."
                    if self.chance(0.8)
                    else "",
                    "rate_type": rate_type,
                    "rate_amount": Decimal(self.rng.randint(2500, 8500)) / 100 if self.chance(0.8) else None,
                    "is_contractor_1099": self.chance(0.15),
                    "is_active": self.chance(0.9),
                    **self.stamps(),
                }
            )
            self.instructor_ids.append(pk)
        count += copy_rows(Instructor, rows, progress)
        active_instructors = [row["id"] for row in rows if row["is_active"]] or self.instructor_ids
        return count + self.seed_cohorts(progress, active_instructors)

    def seed_cohorts(self, progress, instructors: list[int]) -> int:
        v = self.volumes
        first_start = self.as_of - dt.timedelta(days=3 * 365)
        span = (self.as_of + dt.timedelta(days=182) - first_start).days
        sites = [pk for pk, kind in self.location_ids if kind == LocationType.TRAINING_SITE] or [
            pk for pk, _ in self.location_ids
        ]
        rows, assignments, per_year = [], [], {}
        ids = allocate_ids(Cohort, v.cohorts)
        for index, pk in enumerate(ids):
            start = first_start + dt.timedelta(days=int((index + self.rng.random() * 0.8) * span / max(v.cohorts, 1)))
            end = start + dt.timedelta(weeks=self.rng.randint(8, 12))
            if end < self.as_of:
                # the first cohort always completes, so conversions are possible in every mode
                status = CohortStatus.CANCELLED if index and self.chance(0.1) else CohortStatus.COMPLETED
            elif start <= self.as_of:
                status = CohortStatus.ACTIVE
            elif (start - self.as_of).days <= 60:
                status = CohortStatus.ENROLLING
            else:
                status = CohortStatus.PLANNED
            if start.year not in per_year:
                per_year[start.year] = self.next_code_number("training_cohort", rf"^IP2A-{start.year}-[0-9]+$", 11) - 1
            per_year[start.year] += 1
            cohort = {
                "id": pk,
                "name": f"Pre-Apprenticeship {start:%B %Y}",
                "code": f"IP2A-{start.year}-{per_year[start.year]:02d}",
                "status": status,
                "start_date": start,
                "end_date": end,
                "max_students": self.rng.randint(15, 30),
                "location_id": self.rng.choice(sites) if sites else None,
                **self.stamps(),
            }
            rows.append(cohort)
            chosen = self.rng.sample(instructors, k=min(len(instructors), self.rng.randint(1, 3)))
            cohort["instructors"] = chosen
            for rank, instructor_id in enumerate(chosen):
                assignments.append({"cohort_id": pk, "instructor_id": instructor_id, "is_primary": rank == 0})
        self.cohorts = rows
        count = copy_rows(Cohort, rows, progress)
        for row, pk in zip(assignments, allocate_ids(CohortInstructor, len(assignments)), strict=True):
            row.update(id=pk, **self.stamps())
        return count + copy_rows(CohortInstructor, assignments, progress)

    # --- students and enrollments -------------------------------------------------------------------------
    def seed_students(self, progress) -> int:
        v = self.volumes
        rows = []
        for pk in allocate_ids(Student, v.students):
            first, last = self.person()
            row = {
                "id": pk,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{pk}@students.example.net".lower().replace("'", ""),
                "phone": self.phone() if self.chance(0.8) else "",
                "date_of_birth": self.as_of - dt.timedelta(days=self.rng.randint(17 * 365 + 5, 40 * 365))
                if self.chance(0.8)
                else None,
                "is_veteran": self.chance(0.08),
                "referral_source": self.rng.choice(text.REFERRAL_SOURCES) if self.chance(OPTIONAL_SHARE) else "",
                **self.address(),
                **self.stamps(),
            }
            if self.chance(0.6):
                row["emergency_contact_name"] = " ".join(self.person())
                row["emergency_contact_phone"] = self.phone()
                row["emergency_contact_relation"] = self.rng.choice(text.RELATIONS)
            if self.chance(0.7):
                row["shirt_size"] = self.rng.choice(text.SHIRT_SIZES)
                row["shoe_size"] = self.rng.choice(text.SHOE_SIZES)
            rows.append(row)
        self.students = rows
        count = copy_rows(Student, rows, progress)

        pool = [row["id"] for row in rows]
        self.rng.shuffle(pool)
        enrollments = []
        for cohort in self.cohorts:
            if cohort["status"] not in (CohortStatus.COMPLETED, CohortStatus.ACTIVE, CohortStatus.ENROLLING):
                continue
            seats = round(cohort["max_students"] * self.rng.uniform(0.8, 1.0))
            for _ in range(min(seats, len(pool))):
                enrollments.append(self.enrollment(cohort, pool.pop()))
        for row, pk in zip(enrollments, allocate_ids(Enrollment, len(enrollments)), strict=True):
            row["id"] = pk
            if row["status"] == EnrollmentStatus.COMPLETED:
                self.graduates.append(row)
        self.enrollments = enrollments
        return count + copy_rows(Enrollment, enrollments, progress)

    def enrollment(self, cohort: dict, student_id: int) -> dict:
        start, end = cohort["start_date"], cohort["end_date"]
        enrolled_on = min(start - dt.timedelta(days=self.rng.randint(5, 40)), self.as_of)
        row = {"student_id": student_id, "cohort_id": cohort["id"], "enrolled_on": enrolled_on, **self.stamps()}
        if cohort["status"] == CohortStatus.COMPLETED:
            status = self.pick({EnrollmentStatus.COMPLETED: 80, EnrollmentStatus.DROPPED: 10,
                                EnrollmentStatus.WITHDRAWN: 5, EnrollmentStatus.DEFERRED: 5})  # fmt: skip
        elif cohort["status"] == CohortStatus.ACTIVE:
            status = self.pick({EnrollmentStatus.IN_PROGRESS: 90, EnrollmentStatus.DROPPED: 10})
        else:
            status = EnrollmentStatus.ENROLLED
        row["status"] = status
        if status == EnrollmentStatus.COMPLETED:
            row["completed_on"] = end
            row["status_changed_on"] = end
            row["final_grade"] = Decimal(self.rng.randint(7000, 10000)) / 100
        elif status == EnrollmentStatus.IN_PROGRESS:
            row["status_changed_on"] = start
        elif status == EnrollmentStatus.ENROLLED:
            row["status_changed_on"] = enrolled_on
        else:  # left the course between its start and its end (or today)
            last = min(end, self.as_of)
            row["status_changed_on"] = start + dt.timedelta(days=self.rng.randint(0, max((last - start).days, 0)))
        return row

    # --- class sessions and attendance --------------------------------------------------------------------
    def seed_sessions(self, progress) -> int:
        sessions = []
        for cohort in self.cohorts:
            if cohort["status"] == CohortStatus.CANCELLED:
                continue
            day = cohort["start_date"]
            while day <= cohort["end_date"]:
                if day.weekday() in (1, 3):  # Tuesdays and Thursdays, 18:00–21:00
                    sessions.append(
                        {
                            "cohort_id": cohort["id"],
                            "date": day,
                            "start_time": dt.time(18, 0),
                            "end_time": dt.time(21, 0),
                            "instructor_id": self.rng.choice(cohort["instructors"]),
                            "location_id": cohort["location_id"],
                            "topic": self.rng.choice(text.SESSION_TOPICS),
                            **self.stamps(),
                        }
                    )
                day += dt.timedelta(days=1)
        for row, pk in zip(sessions, allocate_ids(ClassSession, len(sessions)), strict=True):
            row["id"] = pk
        count = copy_rows(ClassSession, sessions, progress)

        by_cohort: dict[int, list[dict]] = {}
        for enrollment in self.enrollments:
            by_cohort.setdefault(enrollment["cohort_id"], []).append(enrollment)
        marks = []
        left = (EnrollmentStatus.DROPPED, EnrollmentStatus.WITHDRAWN, EnrollmentStatus.DEFERRED)
        for session in sessions:
            if session["date"] > self.as_of:
                continue
            for enrollment in by_cohort.get(session["cohort_id"], ()):
                if enrollment["status"] in left and session["date"] > enrollment["status_changed_on"]:
                    continue
                status = self.pick(ATTENDANCE_WEIGHTS)
                marks.append(
                    {
                        "session_id": session["id"],
                        "student_id": enrollment["student_id"],
                        "status": status,
                        "minutes_late": self.rng.randint(5, 45) if status == AttendanceStatus.LATE else None,
                        **self.stamps(),
                    }
                )
        for row, pk in zip(marks, allocate_ids(Attendance, len(marks)), strict=True):
            row["id"] = pk
        return count + copy_rows(Attendance, marks, progress)

    # --- credentials and JATC applications ----------------------------------------------------------------
    def seed_credentials(self, progress) -> int:
        v = self.volumes
        completed_on = {row["student_id"]: row["completed_on"] for row in self.graduates}
        holders = [s["id"] for s in self.students if not v.credentials_for_graduates_only or s["id"] in completed_on]
        credentials = []
        names = list(text.CREDENTIALS)
        for student_id in holders:
            for name in self.rng.sample(names, k=self.rng.randint(*v.credentials_per_student)):
                if student_id in completed_on:
                    issued = completed_on[student_id] - dt.timedelta(days=self.rng.randint(0, 40))
                else:
                    issued = self.days_ago(30, 900)
                row = {
                    "student_id": student_id,
                    "name": name,
                    "issuing_org": text.CREDENTIALS[name],
                    "certificate_number": f"{self.rng.randint(100000, 999999)}",
                    "issue_date": issued,
                    "status": CredentialStatus.ACTIVE,
                    **self.stamps(),
                }
                if self.chance(0.7):
                    row["expiration_date"] = issued + dt.timedelta(days=self.rng.randint(365, 3 * 365))
                    if row["expiration_date"] < self.as_of:
                        row["status"] = CredentialStatus.EXPIRED
                credentials.append(row)
        ids = allocate_ids(Credential, len(credentials))
        for row, pk in zip(credentials, ids, strict=True):
            row["id"] = pk
        self.credential_ids = list(ids)
        count = copy_rows(Credential, credentials, progress)

        graduates = [row["student_id"] for row in self.graduates]
        if v.jatc_graduate_share is not None:
            applicants = self.rng.sample(graduates, k=round(len(graduates) * v.jatc_graduate_share))
        elif v.jatc_applications is None:
            applicants = [s["id"] for s in self.students]
        else:
            others = [s["id"] for s in self.students if s["id"] not in completed_on]
            applicants = (graduates + others)[: v.jatc_applications]
        applications = [self.application(student_id, completed_on.get(student_id)) for student_id in applicants]
        for row, pk in zip(applications, allocate_ids(JATCApplication, len(applications)), strict=True):
            row["id"] = pk
        return count + copy_rows(JATCApplication, applications, progress)

    def application(self, student_id: int, completed_on: dt.date | None) -> dict:
        status = self.pick(APPLICATION_WEIGHTS)
        if completed_on:
            applied = min(completed_on + dt.timedelta(days=self.rng.randint(0, 60)), self.as_of)
        else:
            applied = self.days_ago(0, 365)
        row = {"student_id": student_id, "application_date": applied, "status": status, **self.stamps()}
        stage = APPLICATION_ORDER.index(status)
        if status != ApplicationStatus.WITHDRAWN and stage >= APPLICATION_ORDER.index(
            ApplicationStatus.INTERVIEW_SCHEDULED
        ):
            row["interview_date"] = applied + dt.timedelta(days=self.rng.randint(7, 45))
        if status != ApplicationStatus.WITHDRAWN and stage >= APPLICATION_ORDER.index(ApplicationStatus.INTERVIEWED):
            row["interview_score"] = Decimal(self.rng.randint(6000, 10000)) / 100
        if status in (ApplicationStatus.ACCEPTED, ApplicationStatus.REJECTED, ApplicationStatus.WAITLISTED):
            decided = row["interview_date"] + dt.timedelta(days=self.rng.randint(3, 30))
            row["decision_date"] = max(applied, min(decided, self.as_of))
        if status != ApplicationStatus.DRAFT and self.chance(0.7):
            row["aptitude_score"] = Decimal(self.rng.randint(5000, 10000)) / 100
        if self.chance(OPTIONAL_SHARE):
            row["trade_preference"] = self.rng.choice(text.TRADES)
        return row

    # --- members ------------------------------------------------------------------------------------------
    def _member_number_starts(self) -> dict[str, int]:
        """The next number of each block: after the highest existing one (for --no-truncate)."""
        starts = {}
        with connection.cursor() as cursor:
            for block, first, _ in NUMBER_BLOCKS:
                pattern, digits = NUMBER_PATTERNS[block]
                cursor.execute(
                    f"SELECT max(({digits})::bigint) FROM members_member WHERE member_number ~ %s", [pattern]
                )
                highest = cursor.fetchone()[0]
                starts[block] = max(first, (highest or 0) + 1)
        return starts

    def member_number(self) -> str:
        roll, block = self.rng.random(), NUMBER_BLOCKS[0][0]
        for name, _, share in NUMBER_BLOCKS:
            if roll < share:
                block = name
                break
            roll -= share
        number = self.number_next[block]
        self.number_next[block] += 1
        if block == "prefix":
            return f"{self.rng.choice('ABCDEFGHIJK')}{number}"
        if block == "suffix":
            return f"{number}{self.rng.choice('ABCDEFGHJKLMNPRSTUVWXY')}"
        return str(number)

    def seed_members(self, progress) -> int:
        v = self.volumes
        others = [s for s in MemberStatus.values if s != MemberStatus.ACTIVE]
        rows = []
        for pk in allocate_ids(Member, v.members - v.converted_graduates):
            first, last = self.person()
            if v.uniform_classification:
                classification = self.rng.choice(MemberClassification.values)
            else:
                classification = self.pick(CLASSIFICATION_WEIGHTS)
            status = MemberStatus.ACTIVE if self.chance(v.active_share) else self.rng.choice(others)
            if classification == MemberClassification.RETIREE:
                status = MemberStatus.RETIRED
            join_date = self.days_ago(0, 20 * 365) if self.chance(0.85) else None
            birth = None
            if self.chance(0.75):
                birth = self.as_of - dt.timedelta(days=self.rng.randint(18 * 365 + 5, 75 * 365))
                if join_date and birth > join_date - dt.timedelta(days=16 * 366):
                    birth = join_date - dt.timedelta(days=16 * 366 + self.rng.randint(0, 3000))
            row = {
                "id": pk,
                "member_number": self.member_number(),
                "first_name": first,
                "last_name": last,
                "middle_name": self.first_name() if self.chance(0.2) else "",
                "email": f"{first}.{last}.{pk}@example.com".lower().replace("'", "") if self.chance(0.8) else "",
                "phone": self.phone() if self.chance(0.75) else "",
                "date_of_birth": birth,
                "join_date": join_date,
                "status": status,
                "classification": classification,
                **self.address(),
                **self.stamps(),
            }
            rows.append(row)
        self.members = [
            {"id": r["id"], "status": r["status"], "join_date": r["join_date"]} for r in rows
        ]  # what employments need
        return copy_rows(Member, rows, progress)

    # --- employments --------------------------------------------------------------------------------------
    def jobs_for(self, member: dict) -> list[dict]:
        """The stress employment algorithm (DOMAIN.md §9): chronological, non-overlapping jobs at employers."""
        v = self.volumes
        if v.jobs_per_member is None:
            n = 1 + int(99 * self.rng.betavariate(1.3, 4.0))
        else:
            n = self.rng.randint(*v.jobs_per_member)
        earliest = self.as_of - dt.timedelta(days=n * 30)
        if member["join_date"]:
            earliest = min(member["join_date"], earliest)
        window = (self.as_of - earliest).days
        starts = sorted(earliest + dt.timedelta(days=d) for d in self.rng.sample(range(window), n))
        employers: list[int] = []
        jobs = []
        for index, start in enumerate(starts):
            if employers and self.chance(0.2):
                employer = self.rng.choice(employers)
            else:
                employer = self.rng.choice(self.employer_ids)
            employers.append(employer)
            if index + 1 < len(starts):
                end = max(start, starts[index + 1] - dt.timedelta(days=1 + self.rng.randint(0, 30)))
            elif member["status"] not in (MemberStatus.RETIRED, MemberStatus.DECEASED) and self.chance(0.65):
                end = None
            else:
                end = start + dt.timedelta(days=self.rng.randint(0, (self.as_of - start).days))
            jobs.append(
                {
                    "member_id": member["id"],
                    "organization_id": employer,
                    "start_date": start,
                    "end_date": end,
                    "is_current": end is None,
                    "job_title": self.rng.choice(text.JOB_TITLES) if self.chance(0.9) else "",
                    "hourly_rate": Decimal(self.rng.randint(1800, 7599)) / 100 if self.chance(0.75) else None,
                    **self.stamps(),
                }
            )
        return jobs

    def seed_employments(self, progress, members: list[dict] | None = None) -> int:
        jobs = [job for member in (self.members if members is None else members) for job in self.jobs_for(member)]
        for row, pk in zip(jobs, allocate_ids(MemberEmployment, len(jobs)), strict=True):
            row["id"] = pk
        self.employment_ids += [row["id"] for row in jobs]
        return copy_rows(MemberEmployment, jobs, progress)

    # --- attachments --------------------------------------------------------------------------------------
    def plan_attachments(self) -> list[dict]:
        """Every attachment's target slot, profile, category, upload time, size and storage name — decided
        before the database work starts (from a random stream of its own), so the files can be created while
        the other phases load. Slots become target ids in seed_attachments."""
        v, rng = self.volumes, self.files_rng
        random_, base = rng.random, self.stamp.timestamp()
        expected = {
            "members.member": v.members,
            "training.student": v.students,
            "organizations.organization": v.organizations,
        }  # other targets' counts are known only later: their slots are fractions of a large range
        drawn = []  # (label, slots, slot, seconds before the as-of stamp)
        for label, share in TARGET_SHARES:
            slots = expected.get(label) or SLOTS
            count = round(v.attachments * share)
            drawn += [(label, slots, int(random_() * slots), int(random_() * TEN_YEARS)) for _ in range(count)]
        members = max(v.members, 1)
        drawn += [("members.member", members, int(random_() * members), 0) for _ in range(v.attachments - len(drawn))]
        drawn = sorted(drawn[: v.attachments], key=lambda d: (d[0], d[2], -d[3]))  # each target's oldest first

        mixes = {label: (list(mix), list(itertools.accumulate(mix.values()))) for label, mix in PROFILE_MIX.items()}
        others = {
            label: [c for c in allowed if c != AttachmentCategory.IDENTIFICATION]
            for label, allowed in TARGET_CATEGORIES.items()
        }
        plan, previous = [], None
        for label, slots, slot, ago in drawn:
            if (label, slot) != previous and label in ("members.member", "training.student"):
                profile, category = "photo_id", AttachmentCategory.IDENTIFICATION
            else:
                names, cumulative = mixes[label]
                profile = rng.choices(names, cum_weights=cumulative)[0]
                if label == "training.credential":
                    scan = profile == "scan"
                    category = AttachmentCategory.CERTIFICATE if scan else AttachmentCategory.WALLET_CARD
                else:
                    category = rng.choice(others[label])
            previous = (label, slot)
            low, high, extensions = PROFILES[profile]
            plan.append(
                {
                    "label": label,
                    "slots": slots,
                    "slot": slot,
                    "ago": ago,
                    "profile": profile,
                    "category": category,
                    "nominal": low + int(random_() * (high - low)),
                    "ext": extensions[0] if len(extensions) == 1 else rng.choice(extensions),
                }
            )
        factor = v.attachment_bytes / max(sum(f["nominal"] for f in plan), 1)
        for f in plan:
            f["size"] = min(MAX_FILE, max(MIN_FILE, round(f["nominal"] * factor)))
            f["uploaded"] = uploaded = dt.datetime.fromtimestamp(base - f["ago"], tz=dt.UTC)
            model = f["label"].split(".")[1]
            f["name"] = f"{model}/{uploaded.year}/{uploaded.month:02d}/{rng.getrandbits(128):032x}.{f['ext']}"
        return plan

    def seed_attachments(self, progress) -> int:
        pools = {
            "members.member": [m["id"] for m in self.members],
            "members.memberemployment": self.employment_ids,
            "training.student": [s["id"] for s in self.students],
            "training.credential": self.credential_ids,
            "training.enrollment": [e["id"] for e in self.enrollments],
            "organizations.organization": self.organization_ids,
        }
        content_types = {
            label: ContentType.objects.get_by_natural_key(*label.split(".")).pk for label in TARGET_CATEGORIES
        }
        plan = [f for f in self.attachment_plan if pools[f["label"]]]
        digests = zero_digests(f["size"] for f in plan)
        rows = []
        for index, (f, pk) in enumerate(zip(plan, allocate_ids(Attachment, len(plan)), strict=True)):
            pool = pools[f["label"]]
            rows.append(
                {
                    "id": pk,
                    "target_type_id": content_types[f["label"]],
                    "target_id": pool[f["slot"] * len(pool) // f["slots"]],
                    "file": f["name"],
                    "original_name": f"{f['profile'].replace('_', '-')}-{index + 1:06d}.{f['ext']}",
                    "content_type": CONTENT_TYPES[f["ext"]],
                    "size": f["size"],
                    "sha256": digests[f["size"]],
                    "category": f["category"],
                    "created_at": f["uploaded"],
                    "updated_at": f["uploaded"],
                }
            )
        # Rows only once every file exists: a file that could not be created fails the seed (and its rows).
        self.file_maker.join()
        if self.file_error is not None:
            raise self.file_error
        return copy_rows(Attachment, rows, progress)

    def start_files(self) -> None:
        """Create the planned files in a background thread: it is kernel (or network) work, which overlaps the
        database phases instead of adding to them."""
        storage = storages["attachments"]
        if is_bucket(storage):
            maker = BucketFiles(storage)
        elif (root := local_root(storage)) is not None:
            maker = SparseFiles(str(root))
        else:  # its location, if it has one, is no folder that holds its files
            raise ImproperlyConfigured(
                f"seed writes attachment files to a local folder or an S3 bucket, which the attachments storage "
                f"({type(storage).__name__}) is not: pass --no-files."
            )
        files = [(f["name"], f["size"]) for f in self.attachment_plan]
        self.file_error = None

        def make():
            try:
                maker.create_many(files)
            except BaseException as exc:  # reported by seed_attachments
                self.file_error = exc

        self.file_maker = threading.Thread(target=make, name="seed-files", daemon=True)
        self.file_maker.start()

    # --- converted graduates ------------------------------------------------------------------------------
    def seed_conversions(self, progress) -> int:
        v = self.volumes
        candidates = sorted(row["student_id"] for row in self.graduates)
        chosen = self.rng.sample(candidates, k=min(v.converted_graduates, len(candidates)))
        completed_on = {row["student_id"]: row["completed_on"] for row in self.graduates}
        converted = []
        for student_id in chosen:
            join_date = min(completed_on[student_id] + dt.timedelta(days=self.rng.randint(7, 60)), self.as_of)
            member = member_convert_graduate(
                student=Student(pk=student_id), member_number=self.member_number(), join_date=join_date
            )
            converted.append({"id": member.pk, "status": member.status, "join_date": join_date})
            progress(1)
        # The service stamps rows with the clock; the seed's rows carry the as-of date, so runs compare equal.
        Member.all_objects.filter(pk__in=[m["id"] for m in converted]).update(**self.stamps())
        self.members += converted
        return len(converted) + self.seed_employments(lambda n: None, members=converted)


STREET_SUFFIXES = ("St", "Ave", "Way", "Blvd", "Rd", "Ln", "Dr", "Pl", "Ct")


def _weighted(table) -> tuple[list[str], list[float]]:
    """(names, cumulative weights) from one of Faker's weighted name tables."""
    names, cumulative, total = [], [], 0.0
    for name, weight in table.items():
        total += weight
        names.append(name)
        cumulative.append(total)
    return names, cumulative
