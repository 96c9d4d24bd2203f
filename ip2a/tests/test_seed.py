"""The seed: exact volumes, determinism, clean integrity afterwards, and its safety rules."""

import datetime as dt
import hashlib
import io
import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from attachments.models import Attachment
from audit.models import CommandRun
from ip2a.integrity import run_checks
from ip2a.reset import domain_tables
from ip2a.seed.loader import zero_digests
from ip2a.seed.volumes import volumes_for
from members.models import Member, MemberEmployment, MemberStatus
from organizations.models import Organization, OrganizationContact, OrganizationType
from training.models import (
    Cohort,
    CohortStatus,
    Credential,
    Enrollment,
    Instructor,
    JATCApplication,
    Location,
    Student,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 26)


def seed(*args):
    call_command("seed", *args, "--yes", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())


def table_digest() -> dict[str, str]:
    """md5 of every domain table's rows in id order (every column included)."""
    digests = {}
    with connection.cursor() as cursor:
        for table in domain_tables():
            cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM \"{table}\" t")
            digests[table] = cursor.fetchone()[0]
    return digests


def test_quick_seed_has_the_quick_volumes():
    seed("--quick")

    assert Organization.objects.count() == 5
    assert Member.objects.count() == 10
    assert Member.objects.filter(student__isnull=False).count() == 1  # the converted graduate counts
    assert Student.objects.count() == 100
    assert Instructor.objects.count() == 10
    assert Location.objects.count() == 5
    assert Cohort.objects.count() == 3
    assert Credential.objects.count() == 100  # one per student
    assert JATCApplication.objects.count() == 20
    assert Attachment.objects.count() == 30
    total = sum(Attachment.objects.values_list("size", flat=True))
    assert abs(total - 50_000_000) <= 50_000_000 * 0.001


def test_seed_rules_hold_for_organizations_and_members():
    seed("--quick")

    assert Organization.objects.filter(org_type=OrganizationType.UNION).exists()
    assert Organization.objects.filter(name="Cascade Public Utility District", salting_score=3).get().is_employer
    for organization in Organization.objects.all():
        assert organization.contacts.filter(is_primary=True).count() == 1
    for member in Member.objects.all():
        assert member.employments.exists()
    assert not MemberEmployment.objects.filter(
        is_current=True, member__status__in=[MemberStatus.RETIRED, MemberStatus.DECEASED]
    ).exists()
    assert set(MemberEmployment.objects.values_list("organization__org_type", flat=True)) == {"employer"}
    assert Cohort.objects.filter(status=CohortStatus.COMPLETED).exists()
    assert Enrollment.objects.filter(status="completed").exists()


def test_seeded_files_are_sparse_with_the_sha256_of_zeros(attachments_dir):
    seed("--quick")

    attachment = Attachment.objects.order_by("pk").first()
    path = attachments_dir / attachment.file.name
    assert path.stat().st_size == attachment.size
    assert path.stat().st_blocks == 0  # no disk blocks: sparse
    assert attachment.sha256 == hashlib.sha256(bytes(attachment.size)).hexdigest()
    assert {a.category for a in Attachment.objects.filter(original_name__startswith="photo-id")} == {"identification"}


def test_zero_digests_match_hashlib_for_every_size():
    sizes = [1, 1024, 1_048_577, 3_000_000, 1024]

    digests = zero_digests(sizes)

    assert digests == {size: hashlib.sha256(bytes(size)).hexdigest() for size in set(sizes)}


def test_same_seed_counts_and_date_give_identical_data():
    call_command("reset", "--yes", "--with-history", stdout=io.StringIO())
    seed("--quick")
    first = table_digest()
    call_command("reset", "--yes", "--with-history", stdout=io.StringIO())
    seed("--quick")

    assert table_digest() == first
    assert first["members_member"] != hashlib.md5(b"").hexdigest()


def test_another_random_seed_gives_other_data():
    seed("--quick")
    first = table_digest()
    call_command("reset", "--yes", "--with-history", stdout=io.StringIO())
    seed("--quick", "--random-seed", "7")

    assert table_digest()["members_member"] != first["members_member"]


@pytest.mark.parametrize("mode", [["--quick"], []], ids=["quick", "normal"])
def test_integrity_is_clean_after_seeding(mode):
    # As of today (the default): integrity judges dates against today, so the seed must build around it too.
    call_command("seed", *mode, "--yes", stdout=io.StringIO())

    severities = [issue.severity for issue in run_checks()]

    assert "critical" not in severities
    assert "warning" not in severities


def test_seed_without_history_writes_no_events_and_records_the_run():
    seed("--quick")

    assert not Member.pgh_event_model.objects.exists()
    run = CommandRun.objects.get(command="seed")
    assert (run.outcome, run.exit_code, run.source) == ("succeeded", 0, "seed")
    assert [phase["phase"] for phase in run.summary["phases"]] == [
        "truncate",
        "file plan",
        "organizations",
        "training setup",
        "students",
        "sessions",
        "credentials",
        "members",
        "employments",
        "converted graduates",
        "attachments",
        "checks and commit",
        "vacuum and analyze",
    ]


def test_seed_with_record_history_records_seed_events():
    seed("--quick", "--no-files", "--record-history")

    event = Member.pgh_event_model.objects.filter(pgh_label="insert").first()
    assert event.pgh_context["source"] == "seed"
    assert Member.pgh_event_model.objects.filter(pgh_label="insert").count() == 10


def test_seed_refuses_to_replace_data_without_yes():
    seed("--quick", "--no-files")

    with pytest.raises(CommandError, match="Pass --yes to replace it") as refused:
        call_command("seed", "--quick", stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert Member.objects.count() == 10


def test_no_truncate_adds_and_continues_each_member_number_block():
    seed("--quick", "--no-files")
    numbers = set(Member.objects.values_list("member_number", flat=True))

    call_command("seed", "--quick", "--no-files", "--no-truncate", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())

    assert Member.objects.count() == 20
    assert numbers < set(Member.objects.values_list("member_number", flat=True))
    assert OrganizationContact.objects.count() > 5


def test_custom_counts_override_the_mode():
    seed("--quick", "--no-files", "--members", "25", "--students", "40", "--organizations", "8")

    assert Member.objects.count() == 25
    assert Student.objects.count() == 40
    assert Organization.objects.count() == 8


def test_counts_below_the_fixed_organizations_are_refused():
    with pytest.raises(CommandError, match="at least 4"):
        seed("--quick", "--organizations", "3")


def test_seed_is_refused_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="refused when IP2A_ENV=production") as refused:
        seed("--quick")
    assert refused.value.returncode == 2


def test_stress_seed_is_seed_with_the_stress_default():
    from ip2a.management.commands import seed as seed_module
    from ip2a.management.commands import stress_seed

    assert stress_seed.Command.default_mode == "stress"
    assert issubclass(stress_seed.Command, seed_module.Command)
    stress = volumes_for("stress")
    assert (stress.members, stress.students, stress.attachments) == (10_000, 1_000, 150_000)
    assert stress.attachment_bytes == 30_000_000_000


def test_seed_clears_the_shared_cache_its_untracked_load_would_leave_stale():
    cache.set("dashboard-numbers", 42)

    seed("--quick", "--no-files")

    assert cache.get("dashboard-numbers") is None


def test_seed_says_each_phase_as_it_starts_and_ends_when_not_on_a_terminal():
    err = io.StringIO()  # not a terminal: no bar, plain lines

    call_command("seed", "--quick", "--yes", "--no-files", stdout=io.StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    started = [line for line in lines if line.endswith("rows …")]
    ended = [line for line in lines if re.search(r": [\d,]+ rows in [\d.]+ s$", line)]
    assert started
    assert len(ended) == len(started)
    assert started[0].split(":")[0] == ended[0].split(":")[0]  # the same phase, started then ended
