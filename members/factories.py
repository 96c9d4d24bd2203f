import datetime

import factory
from factory.django import DjangoModelFactory

from members.models import Member, MemberClassification, MemberEmployment, MemberStatus
from organizations.factories import EmployerFactory


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = Member

    member_number = factory.Sequence(lambda n: f"{7_000_000 + n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda member: f"m{member.member_number.lower()}@example.org")
    status = MemberStatus.ACTIVE
    classification = MemberClassification.JOURNEYMAN
    join_date = datetime.date(2015, 3, 1)


class MemberEmploymentFactory(DjangoModelFactory):
    """A current job at an employer (pass end_date for a past one)."""

    class Meta:
        model = MemberEmployment

    member = factory.SubFactory(MemberFactory)
    organization = factory.SubFactory(EmployerFactory)
    start_date = datetime.date(2020, 1, 6)
    end_date = None
    job_title = "Inside wireman"
    hourly_rate = factory.Faker("pydecimal", left_digits=2, right_digits=2, min_value=18, max_value=75)
