import factory
from factory.django import DjangoModelFactory

from organizations.models import Organization, OrganizationContact, OrganizationType


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n:04d}")
    org_type = OrganizationType.EMPLOYER
    city = "Seattle"
    state = "WA"


class EmployerFactory(OrganizationFactory):
    name = factory.Sequence(lambda n: f"Employer {n:04d} Electric")
    org_type = OrganizationType.EMPLOYER


class OrganizationContactFactory(DjangoModelFactory):
    class Meta:
        model = OrganizationContact

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.org")
    is_primary = False
