import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessLog
from members.factories import MemberFactory
from organizations.factories import EmployerFactory, OrganizationFactory
from organizations.models import OrganizationType
from training.factories import CohortInstructorFactory, EnrollmentFactory, InstructorFactory, StudentFactory

pytestmark = pytest.mark.django_db

SEARCH = "/search/"
GROUPS_OF = {
    "admin": ["members", "students", "organizations"],
    "officer": ["members", "students", "organizations"],
    "staff": ["members", "students", "organizations"],
    "organizer": ["members", "organizations"],
    "instructor": ["students"],
    "read_only": ["members", "students", "organizations"],
}


@pytest.fixture
def people():
    return {
        "ana": MemberFactory(
            member_number="7001234",
            first_name="Ana",
            last_name="Ruiz",
            phone="(206) 555-0142",
            email="ana.ruiz@example.org",
        ),
        "bob": MemberFactory(member_number="A7001235", first_name="Bob", last_name="Ruizzo", phone="206.555.9999"),
        "carl": MemberFactory(first_name="Carl", last_name="Ortega", email="carl@ruiz-family.example"),
        "gone": MemberFactory(first_name="Ana", last_name="Ruiz-Gone", deleted_at=timezone.now()),
        "anabel": StudentFactory(first_name="Anabel", last_name="Ruiz", phone="425 555 0142"),
        "dora": StudentFactory(first_name="Dora", last_name="Diaz", email="dora.diaz@example.org"),
        "north": OrganizationFactory(name="North Ruiz Co", org_type=OrganizationType.UNION),
        "electric": EmployerFactory(name="Ruiz Electric"),
        "other": EmployerFactory(name="Volt Works"),
    }


def results(response):
    return {group["key"]: [str(obj) for obj in group["results"]] for group in response.context["groups"]}


def names(response, key):
    group = next(group for group in response.context["groups"] if group["key"] == key)
    return [getattr(obj, "full_name", None) or obj.name for obj in group["results"]]


# --- Kinds of search ---------------------------------------------------------------------------------------


def test_search_exact_member_number_jumps_to_the_member(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": " a7001235 "})

    assert response.status_code == 302
    assert response["Location"] == reverse("members:member_detail", args=[people["bob"].pk])


def test_search_member_number_prefix_lists_without_jumping(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "70012"})

    assert response.status_code == 200
    assert names(response, "members") == ["Ana Ruiz"]


def test_search_deleted_member_number_does_not_jump(role_client, people):
    response = role_client("admin").get(SEARCH, {"q": people["gone"].member_number})

    assert response.status_code == 200
    assert names(response, "members") == []


def test_search_last_name_prefix_groups_members_students_and_organizations(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "ruiz"})

    assert response.status_code == 200
    assert [group["key"] for group in response.context["groups"]] == ["members", "students", "organizations"]
    assert names(response, "members") == ["Ana Ruiz", "Bob Ruizzo"]  # not the deleted one, nor carl@ruiz-…
    assert names(response, "students") == ["Anabel Ruiz"]
    assert names(response, "organizations") == ["Ruiz Electric", "North Ruiz Co"]  # prefix matches first
    html = response.content.decode()
    assert 'aria-labelledby="search-members"' in html
    assert 'Members <span class="count">(2)</span>' in html
    assert f'<a href="{reverse("members:member_detail", args=[people["ana"].pk])}">7001234 — Ana Ruiz</a>' in html
    assert f'<a href="{people["anabel"].get_absolute_url()}">Anabel Ruiz</a>' in html
    assert f'<a href="{people["electric"].get_absolute_url()}">Ruiz Electric</a>' in html
    assert f'<a href="{reverse("training:student_list")}?q=ruiz">See all students in the list</a>' in html
    assert f'<a href="{reverse("organizations:organization_list")}?q=ruiz">See all organizations' in html


def test_search_first_name_prefix(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "An"})

    assert names(response, "members") == ["Ana Ruiz"]
    assert names(response, "students") == ["Anabel Ruiz"]


@pytest.mark.parametrize("q", ["ana ruiz", "Ruiz, Ana", "ANA RU"])
def test_search_first_and_last_name_together(role_client, people, q):
    response = role_client("staff").get(SEARCH, {"q": q})

    assert names(response, "members") == ["Ana Ruiz"]
    assert names(response, "students") == ["Anabel Ruiz"]


@pytest.mark.parametrize("q", ["555-0142", "5550142", "(555) 0142"])
def test_search_phone_digits_anywhere_in_the_number(role_client, people, q):
    response = role_client("staff").get(SEARCH, {"q": q})

    assert names(response, "members") == ["Ana Ruiz"]
    assert names(response, "students") == ["Anabel Ruiz"]


@pytest.mark.parametrize("q", ["ANA.RUIZ@EXAMPLE.ORG", "ana.ruiz@", "ana.r"])
def test_search_email_exact_or_prefix_ignoring_case(role_client, people, q):
    response = role_client("staff").get(SEARCH, {"q": q})

    assert names(response, "members") == ["Ana Ruiz"]


def test_search_student_email(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "Dora.Diaz@Example.org"})

    assert names(response, "students") == ["Dora Diaz"]
    assert names(response, "members") == []


def test_search_organization_name_contains(role_client, people):
    response = role_client("organizer").get(SEARCH, {"q": "works"})

    assert names(response, "organizations") == ["Volt Works"]


def test_search_shows_ten_per_group_and_links_to_the_full_list(role_client):
    MemberFactory.create_batch(12, last_name="Smith")
    MemberFactory(last_name="Smithers")

    response = role_client("staff").get(SEARCH, {"q": "smith"})

    group = response.context["groups"][0]
    assert (group["key"], group["count"], group["more"]) == ("members", 10, True)
    html = response.content.decode()
    assert 'Members <span class="count">(10+)</span>' in html
    assert f'<a href="{reverse("members:member_list")}?q=smith">See all members in the list</a>' in html
    assert "See all students" not in html  # no student matches: nothing more to see in their list


def test_search_with_no_match_says_so(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "zzzz"})

    assert response.status_code == 200
    assert "Nothing matches “zzzz”." in response.content.decode()
    assert response.context["found"] == 0


def test_search_without_words_shows_the_form_and_a_hint(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "   "})

    assert response.status_code == 200
    assert response.context["groups"] == []
    html = response.content.decode()
    assert 'name="q"' in html
    assert "An exact member number opens the member." in html


def test_search_is_not_access_logged(role_client, people):
    role_client("staff").get(SEARCH, {"q": "ruiz"})

    assert AccessLog.objects.count() == 0


# --- Permissions and scope ---------------------------------------------------------------------------------


def test_search_groups_follow_each_roles_permissions(role_client, any_role, people):
    response = role_client(any_role).get(SEARCH, {"q": "ruiz"})

    assert response.status_code == 200
    assert [group["key"] for group in response.context["groups"]] == GROUPS_OF[any_role]


def test_search_without_a_role_is_forbidden(client, make_user):
    client.force_login(make_user(None))

    assert client.get(SEARCH, {"q": "ruiz"}).status_code == 403


def test_search_member_number_jump_needs_the_member_permission(client, make_user, people):
    client.force_login(make_user("instructor"))

    response = client.get(SEARCH, {"q": "7001234"})

    assert response.status_code == 200
    assert "7001234" not in "".join(str(obj) for group in response.context["groups"] for obj in group["results"])


@pytest.mark.parametrize("role", ["organizer", "read_only"])
def test_search_member_number_jumps_for_every_role_that_may_view_members(role_client, people, role):
    response = role_client(role).get(SEARCH, {"q": "7001234"})

    assert response["Location"] == reverse("members:member_detail", args=[people["ana"].pk])


def test_search_shows_an_instructor_only_their_own_students(client, make_user, people):
    user = make_user("instructor")
    assignment = CohortInstructorFactory(instructor=InstructorFactory(user=user))
    EnrollmentFactory(cohort=assignment.cohort, student=people["anabel"])
    StudentFactory(first_name="Ruth", last_name="Ruiz")  # in no cohort of theirs
    client.force_login(user)

    response = client.get(SEARCH, {"q": "ruiz"})

    assert results(response) == {"students": ["Anabel Ruiz"]}
    assert "Ruizzo" not in response.content.decode()


# --- Safety and the header -------------------------------------------------------------------------------


def test_search_escapes_hostile_text(role_client):
    MemberFactory(first_name="<script>alert(1)</script>", last_name="<b>Evil</b>")
    OrganizationFactory(name='<img src=x onerror="alert(2)">')

    client = role_client("staff")

    html = client.get(SEARCH, {"q": "<"}).content.decode()
    html += client.get(SEARCH, {"q": '"><script>alert(3)</script>'}).content.decode()

    assert "<script>alert" not in html
    assert "<b>Evil" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;Evil&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert "&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html


def test_search_ignores_overlong_queries_beyond_100_characters(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "ruiz" + "x" * 500})

    assert response.context["q"] == "ruiz" + "x" * 96


def test_search_ignores_nul_characters(role_client, people):
    response = role_client("staff").get(SEARCH, {"q": "Ru\x00iz"})

    assert response.status_code == 200
    assert response.context["q"] == "Ruiz"


@pytest.mark.parametrize(
    "url",
    [
        "/",
        SEARCH,
        "/members/",
        "/organizations/",
        "/accounts/password/",
    ],
)
def test_header_search_form_is_on_every_page_for_logged_in_users(role_client, url):
    html = role_client("staff").get(url).content.decode()

    assert '<form class="header-search" role="search" method="get" action="/search/">' in html
    assert "data-global-search" in html


def test_header_search_form_keeps_the_words_on_the_results_page(role_client, people):
    html = role_client("staff").get(SEARCH, {"q": "ruiz"}).content.decode()

    assert 'data-global-search value="ruiz">' in html


def test_header_search_form_is_not_on_the_login_page(client):
    html = client.get(reverse("login")).content.decode()

    assert "data-global-search" not in html


def test_search_runs_a_fixed_number_of_queries(role_client, django_assert_max_num_queries):
    MemberFactory.create_batch(30, last_name="Smith", phone="206 555 0100")
    StudentFactory.create_batch(30, last_name="Smith", phone="206 555 0100")
    for n in range(30):
        EmployerFactory(name=f"Smith Electric {n}")
    client = role_client("staff")
    client.get("/healthz")

    # session, user, user permissions, group permissions, groups, members, students, organizations
    with django_assert_max_num_queries(8):
        response = client.get(SEARCH, {"q": "smith"})
    with django_assert_max_num_queries(8):
        client.get(SEARCH, {"q": "555 0100"})

    assert [group["count"] for group in response.context["groups"]] == [10, 10, 10]
