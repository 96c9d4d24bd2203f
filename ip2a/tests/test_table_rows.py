"""Table rows written in Python (members/templatetags/member_tables.py, organizations/…/organization_tables.py,
training/…/training_tables.py) give the HTML the template loops they replaced gave: a member's jobs for every
role and member state, and the member, organization and student lists' rows."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone

from attachments.factories import AttachmentFactory
from members.factories import MemberEmploymentFactory, MemberFactory
from organizations.factories import EmployerFactory, OrganizationContactFactory
from training.factories import EnrollmentFactory, StudentFactory

pytestmark = pytest.mark.django_db

# The loop of templates/members/member_detail.html before the rows moved to Python, verbatim.
TEMPLATE_ROWS = """{% for job in employments %}
      <tr id="employment-{{ job.pk }}">
        <td><a href="{{ job.organization.get_absolute_url }}">{{ job.organization }}</a></td>
        <td>{{ job.job_title|default:"—" }}</td>
        <td>{{ job.start_date|date:"Y-m-d" }}</td>
        <td>{% if job.is_current %}<span class="badge badge-current">Current</span>{% else %}{{ job.end_date|date:"Y-m-d" }}{% endif %}</td>
        <td>{% if job.hourly_rate is not None %}${{ job.hourly_rate }}{% else %}—{% endif %}</td>
        {% if perms.attachments.view_attachment %}<td><a href="{% url "attachments:attachment_files" "members" "memberemployment" job.pk %}" aria-label="Files of this job">{{ job.file_count|default:0 }}</a></td>{% endif %}
        {% if not object.deleted_at %}
        <td>
          {% if perms.members.change_memberemployment %}<a href="{% url 'members:employment_update' job.pk %}">Edit</a>{% if job.is_current %} · <a href="{% url 'members:employment_end' job.pk %}">End</a>{% endif %}{% endif %}
          {% if perms.members.delete_memberemployment %}{% if perms.members.change_memberemployment %} · {% endif %}<a href="{% url 'members:employment_delete' job.pk %}">Delete</a>{% endif %}
        </td>
        {% endif %}
      </tr>
      {% endfor %}"""  # noqa: E501
ROW = re.compile(r'<tr id="employment-\d+">.*?</tr>', re.S)


def normalized(html: str) -> str:
    """Runs of whitespace as one space: what a browser shows, and a row's text (cells stay apart)."""
    return re.sub(r"\s+", " ", html).strip()


@pytest.mark.parametrize("role", ["admin", "officer", "staff", "organizer", "read_only"])
@pytest.mark.parametrize("deleted", [False, True], ids=["live", "deleted"])
def test_the_rows_are_those_the_template_loop_wrote(role_client, role, deleted):
    member = MemberFactory(deleted_at=timezone.now() if deleted else None)
    employer = EmployerFactory(name="Sparks & <Sons>")
    current = MemberEmploymentFactory(
        member=member, organization=employer, start_date=dt.date(2024, 3, 1), hourly_rate=Decimal("41.50")
    )
    MemberEmploymentFactory(
        member=member, start_date=dt.date(2019, 1, 7), end_date=dt.date(2023, 12, 29), job_title="", hourly_rate=None
    )
    AttachmentFactory(target_obj=current)
    client = role_client(role)

    response = client.get(reverse("members:member_detail", args=[member.pk]))
    if response.status_code == 404:  # a deleted member, for a role that may not restore it
        assert deleted
        return
    context = {name: response.context[name] for name in ("employments", "object")}
    expected = engines["django"].from_string(TEMPLATE_ROWS).render(context, response.wsgi_request)

    rows = ROW.findall(response.content.decode())
    assert len(rows) == 2
    assert [normalized(row) for row in rows] == [normalized(row) for row in ROW.findall(expected)]
    assert "Sparks &amp; &lt;Sons&gt;" in rows[0]


# The member list's row loop before the rows moved to Python, verbatim but for {% keptrow %}, which served the
# same rows from memory and is gone.
LIST_ROWS = """{% for member in object_list %}
    <tr>
      <td><a href="{{ member.get_absolute_url }}">{{ member.member_number }}</a></td>
      <td>{{ member.last_name }}, {{ member.first_name }}{% if member.middle_name %} {{ member.middle_name }}{% endif %}</td>
      <td>{{ member.classification_label }}</td>
      <td><span class="badge badge-{{ member.status }}">{{ member.status_label }}</span>{% if member.deleted_at %} <span class="badge badge-deleted">Deleted</span>{% endif %}</td>
      <td>{% if member.employer_id %}<a href="{% url "organizations:organization_detail" member.employer_id %}">{{ member.employer_name }}</a>{% else %}—{% endif %}</td>
    </tr>
    {% empty %}
    <tr><td colspan="5">No members match these filters.</td></tr>
    {% endfor %}"""  # noqa: E501
TBODY = re.compile(r"<tbody>(.*?)</tbody>", re.S)
QUERIES = {"live": "", "deleted": "?deleted=only", "none": "?q=nobody-matches-this"}


def list_body_and_loop(client, url: str, loop: str) -> tuple[str, str]:
    """The list page's table body, and what the old ``loop`` renders for the same rows, whitespace collapsed."""
    response = client.get(url)
    context = {"object_list": response.context["object_list"]}
    expected = engines["django"].from_string(loop).render(context, response.wsgi_request)
    return normalized(TBODY.search(response.content.decode()).group(1)), normalized(expected)


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_the_list_rows_are_those_the_template_loop_wrote(role_client, query):
    MemberFactory(last_name="O'Neil <b>", first_name="Ann & Co", middle_name="Q", status="active")
    MemberFactory(last_name="Zed", middle_name="", classification="apprentice_2", deleted_at=timezone.now())
    MemberEmploymentFactory(member=MemberFactory(last_name="Bo"), organization=EmployerFactory(name="Volt <&> Co"))

    body, expected = list_body_and_loop(role_client("officer"), reverse("members:member_list") + query, LIST_ROWS)

    assert body == expected
    assert ("No members match" in body) == (query == "?q=nobody-matches-this")
    assert ("badge-deleted" in body) == (query == "?deleted=only")


# The organization and student lists' row loops before the rows moved to Python, verbatim but for {% keptrow %}.
ORGANIZATION_ROWS = """{% for organization in object_list %}
    <tr>
      <td><a href="{{ organization.get_absolute_url }}">{{ organization.name }}</a></td>
      <td>{{ organization.get_org_type_display }}</td>
      <td>{{ organization.city|default:"—" }}</td>
      <td>{{ organization.get_salting_score_display|default:"—" }}</td>
      <td>{% with contact=organization.primary_contacts.0 %}{% if contact %}{{ contact.full_name }}{% if contact.phone %} · {{ contact.phone }}{% endif %}{% else %}—{% endif %}{% endwith %}</td>
    </tr>
    {% empty %}
    <tr><td colspan="5">No organizations match these filters.</td></tr>
    {% endfor %}"""  # noqa: E501
STUDENT_ROWS = """{% for student in object_list %}
    <tr>
      <td><a href="{{ student.get_absolute_url }}">{{ student.last_name }}, {{ student.first_name }}{% if student.middle_name %} {{ student.middle_name }}{% endif %}</a>{% if student.deleted_at %} <span class="badge badge-deleted">Deleted</span>{% endif %}</td>
      <td>{{ student.email }}</td>
      <td>{{ student.phone|default:"—" }}</td>
      <td>{% if student.current_cohort %}{{ student.current_cohort }}{% else %}—{% endif %}</td>
      <td>{{ student.program_status_label }}</td>
    </tr>
    {% empty %}
    <tr><td colspan="5">No students match these filters.</td></tr>
    {% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_the_organization_rows_are_those_the_template_loop_wrote(role_client, query):
    plain = EmployerFactory(name="Amps & <Ohms>", city="", salting_score=None)
    OrganizationContactFactory(organization=plain, first_name="Di", last_name="O'Hara", phone="", is_primary=True)
    scored = EmployerFactory(name="Bolt Co", city="Tacoma", salting_score=4)
    OrganizationContactFactory(organization=scored, phone="555-0142", is_primary=True)
    EmployerFactory(name="Zinc Ltd", deleted_at=timezone.now())

    url = reverse("organizations:organization_list") + query

    body, expected = list_body_and_loop(role_client("officer"), url, ORGANIZATION_ROWS)

    assert body == expected
    assert ("No organizations match" in body) == (query == "?q=nobody-matches-this")


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_the_student_rows_are_those_the_template_loop_wrote(role_client, query):
    enrolled = EnrollmentFactory(student=StudentFactory(last_name="Ng <i>", middle_name="Lee", phone=""))
    StudentFactory(last_name="Ames", email="ames@example.org", phone="555-0100", deleted_at=timezone.now())
    StudentFactory(last_name="Cruz")

    body, expected = list_body_and_loop(role_client("officer"), reverse("training:student_list") + query, STUDENT_ROWS)

    assert body == expected
    assert ("No students match" in body) == (query == "?q=nobody-matches-this")
    assert (str(enrolled.cohort) in body) == ("nobody" not in query)
