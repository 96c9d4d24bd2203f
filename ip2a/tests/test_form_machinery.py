"""The form renderer (Python shortcuts for the field templates) writes exactly what the templates write, and the
one-query check constraints give exactly Django's validation errors."""

import datetime as dt

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.forms.renderers import TemplatesSetting
from django.test.utils import CaptureQueriesContext
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from ip2a.form_renderer import PortalFormRenderer
from ip2a.forms import (
    changed_fields,
    full_clean,
    integrity_error_message,
    settled_by_stored_values,
    validate_constraints,
)
from members.factories import MemberEmploymentFactory, MemberFactory
from members.forms import EmploymentAddForm, MemberForm
from members.models import NUMBER_FORMAT_MESSAGE, Member, MemberEmployment
from organizations.factories import EmployerFactory
from organizations.forms import OrganizationContactCreateForm, OrganizationForm
from organizations.models import Organization

CHOICES = [("", "---"), ("a", "A & B"), ("Group <1>", [("b", gettext_lazy("Lazy")), (3, "Three")])]


class EveryWidgetForm(forms.Form):
    """One field of each widget the renderer writes itself, plus some it leaves to the templates."""

    text = forms.CharField(label="Name <b>", help_text="Help with <em>HTML</em>.", max_length=5)
    email = forms.EmailField(required=False, label_suffix=" ->")
    number = forms.IntegerField(initial=1234567, widget=forms.NumberInput(attrs={"step": 5, "data-x": None}))
    day = forms.DateField(initial=dt.date(2024, 2, 29), widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(required=False)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "aria-describedby": "mine"}), required=False)
    pick = forms.ChoiceField(choices=CHOICES, required=False, help_text="Pick one.")
    many = forms.MultipleChoiceField(choices=CHOICES[1:2], required=False)
    flag = forms.BooleanField(required=False, label="Yes?")
    radio = forms.ChoiceField(choices=[("x", "X"), ("y", "Y")], widget=forms.RadioSelect, help_text="Radio help.")
    boxes = forms.MultipleChoiceField(choices=[(1, 1), (2, 2)], widget=forms.CheckboxSelectMultiple, required=False)
    upload = forms.FileField(required=False)
    off = forms.CharField(disabled=True, initial="quote \" and ' here", required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial="h&i", required=False)
    unlabelled = forms.CharField(label="", required=False, widget=forms.TextInput(attrs={"autofocus": True}))
    safe_label = forms.CharField(label=mark_safe("Safe <i>label</i>"), required=False)


def render_both(make_form):
    """The form's fields rendered by Django's TemplatesSetting and by PortalFormRenderer."""
    pages = []
    for renderer in (TemplatesSetting(), PortalFormRenderer()):
        form = make_form(renderer)
        pages.append("\n".join(str(field.as_field_group()) for field in form))
    return pages


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"text": "too long <x>", "number": "abc", "day": "bad", "pick": "zz", "email": "x", "radio": "q"},
        {"text": "ok", "number": "5", "day": "2024-01-01", "radio": "x", "notes": "a\n<b>&", "flag": "on"},
    ],
    ids=["unbound", "errors", "valid"],
)
def test_renderer_writes_what_the_templates_write(data):
    """Every widget, label, help text and error list comes out byte for byte as Django's templates write it."""
    templates, shortcuts = render_both(lambda renderer: EveryWidgetForm(data, renderer=renderer))

    assert shortcuts == templates


@pytest.mark.django_db
def test_renderer_writes_the_portal_forms_as_the_templates_do():
    member = MemberEmploymentFactory().member
    EmployerFactory.create_batch(3)
    makers = [
        lambda renderer: MemberForm(renderer=renderer),
        lambda renderer: MemberForm({"member_number": "x", "email": "bad"}, instance=member, renderer=renderer),
        lambda renderer: EmploymentAddForm(member=member, renderer=renderer),
        lambda renderer: EmploymentAddForm({"start_date": "2020-02-01"}, member=member, renderer=renderer),
        lambda renderer: OrganizationForm({"name": ""}, renderer=renderer),
        lambda renderer: OrganizationContactCreateForm(renderer=renderer),
    ]
    for make_form in makers:
        templates, shortcuts = render_both(make_form)
        assert shortcuts == templates


def test_renderer_uses_the_template_once_it_differs(settings):
    """An overridden field template is rendered as written: the shortcut stands only for the source it copies."""
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "DIRS": [],
            "APP_DIRS": False,
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {"django/forms/field.html": "<p>{{ field.label }}: {{ field }}</p>"},
                    ),
                    "django.template.loaders.app_directories.Loader",
                ]
            },
        }
    ]
    form = EveryWidgetForm(renderer=PortalFormRenderer())

    assert str(form["text"].as_field_group()) == (
        '<p>Name &lt;b&gt;: <input type="text" name="text" maxlength="5" required aria-describedby="id_text_helptext" '
        'id="id_text"></p>'
    )


def errors_both_ways(instance, **kwargs):
    """The errors of Django's own validate_constraints() and of ip2a.forms' one, with the queries the latter ran
    (each must refuse the instance)."""
    with pytest.raises(ValidationError) as django_way:
        instance.validate_constraints(**kwargs)
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as ours:
        validate_constraints(instance, **kwargs)
    return django_way.value.message_dict, ours.value.message_dict, queries


@pytest.mark.django_db
def test_check_constraints_in_one_query_give_djangos_errors():
    member = Member(member_number="12", first_name=" ", last_name="Ruiz", status="nope", classification="journeyman")

    django_way, one_query, queries = errors_both_ways(member)

    assert one_query == django_way
    assert one_query == {
        "__all__": [
            NUMBER_FORMAT_MESSAGE,
            "First name may not be blank.",
            "Status must be one of: active, inactive, suspended, retired, deceased.",
        ]
    }
    # The five checks in one query, the member number's uniqueness in another (savepoints aside: the test runs
    # in a transaction).
    asked = [query["sql"] for query in queries if "SAVEPOINT" not in query["sql"]]
    assert len(asked) == 2
    assert asked[0].count("_check_") == 5


@pytest.mark.django_db
def test_check_constraints_take_djangos_own_path_without_its_private_helpers(monkeypatch):
    """A Django without the two helpers the one query reuses gets Django's one query per check, same errors."""
    monkeypatch.setattr("ip2a.forms.ONE_QUERY_CHECKS", False)
    member = Member(member_number="12", first_name=" ", last_name="Ruiz", status="nope", classification="journeyman")

    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as one_by_one:
        validate_constraints(member)

    assert one_by_one.value.message_dict["__all__"][1:] == [
        "First name may not be blank.",
        "Status must be one of: active, inactive, suspended, retired, deceased.",
    ]
    assert not any("_check_" in query["sql"] for query in queries)


@pytest.mark.django_db
def test_check_constraints_in_one_query_skip_what_django_skips():
    """Excluded fields (a field that failed already) leave their checks out, as Django does."""
    member = Member(member_number="12", first_name=" ", last_name="Ruiz", status="active", classification="x")

    with pytest.raises(ValidationError) as django_way:
        member.validate_constraints(exclude={"member_number", "classification"})
    with pytest.raises(ValidationError) as one_query:
        validate_constraints(member, exclude={"member_number", "classification"})

    assert one_query.value.message_dict == django_way.value.message_dict
    assert one_query.value.message_dict == {"__all__": ["First name may not be blank."]}


@pytest.mark.django_db
def test_full_clean_in_one_query_keeps_the_models_own_rules():
    """The job model's override (is_current is validated though never a form field) still applies."""
    job = MemberEmploymentFactory()
    second = MemberEmployment(
        member=job.member, organization=job.organization, start_date=dt.date(2021, 1, 4), hourly_rate=-1
    )
    second.check_overlap = False

    with pytest.raises(ValidationError) as django_way:
        second.full_clean()
    with pytest.raises(ValidationError) as one_query:
        full_clean(second)

    assert one_query.value.message_dict == django_way.value.message_dict
    assert set(one_query.value.message_dict["__all__"]) == {
        "This member already has a current job; end it first.",
        "The hourly rate must be more than zero.",
    }
    assert "validate_constraints" not in vars(second)  # the stand-ins are gone again
    assert "get_constraints" not in vars(second)


@pytest.mark.django_db
def test_clean_fields_does_not_look_up_related_rows_already_loaded():
    """A job set to a member and an employer read from the database asks nothing more of it."""
    job = MemberEmploymentFactory()
    member, employer = Member.objects.get(pk=job.member_id), Organization.objects.get(pk=job.organization_id)
    second = MemberEmployment(member=member, organization=employer, start_date=dt.date(2021, 1, 4))

    with CaptureQueriesContext(connection) as queries:
        second.clean_fields()

    assert queries.captured_queries == []


@pytest.mark.django_db
def test_clean_fields_still_refuses_a_related_id_with_no_row():
    """A key given as a bare id, or set to a row not saved, is checked as Django checks it."""
    job = MemberEmploymentFactory()
    start = dt.date(2021, 1, 4)
    by_id = MemberEmployment(member_id=job.member_id, organization_id=2_000_000_000, start_date=start)
    unsaved = MemberEmployment(
        member=job.member, organization=Organization(pk=2_000_000_000, name="X"), start_date=start
    )

    for job_to_check in (by_id, unsaved):
        with pytest.raises(ValidationError) as refused:
            job_to_check.clean_fields()
        assert list(refused.value.message_dict) == ["organization"]


@pytest.mark.django_db
def test_clean_fields_still_says_null_for_a_row_deleted_by_model_delete():
    """Model.delete() leaves the object looking loaded but without a pk: the key is None, which Django refuses."""
    job = MemberEmploymentFactory()
    employer = Organization.objects.get(pk=job.organization_id)
    employer.pk = None  # as Model.delete() leaves it
    orphan = MemberEmployment(member=job.member, organization=employer, start_date=dt.date(2021, 1, 4))

    with pytest.raises(ValidationError) as refused:
        orphan.clean_fields()

    assert refused.value.message_dict == {"organization": ["This field cannot be null."]}


@pytest.mark.django_db
def test_member_form_checks_its_constraints_in_one_query():
    """Saving a member's form asks the database once for all five check constraints (Django asks five times)."""
    member = MemberFactory()
    form = MemberForm(
        {
            "member_number": member.member_number,
            "first_name": "Ana",
            "last_name": "Ruiz",
            "classification": "journeyman",
            "phone": "555-123-4567",
        },
        instance=member,
    )

    with CaptureQueriesContext(connection) as queries:
        assert form.is_valid(), form.errors

    checks = [query["sql"] for query in queries if "COALESCE" in query["sql"]]
    assert len(checks) == 1
    assert checks[0].count("_check_") == 4  # status is not on the edit form


@pytest.mark.django_db
def test_constraints_reading_only_values_the_row_was_read_with_are_not_asked():
    """A member read from the database with only its phone changed: each constraint reads fields that still hold
    their stored values, which the database checked when they were written, so none is asked again."""
    member = Member.objects.get(pk=MemberFactory().pk)
    member.phone = "555-123-4567"

    with CaptureQueriesContext(connection) as queries:
        validate_constraints(member)

    assert queries.captured_queries == []


@pytest.mark.django_db
def test_a_changed_field_has_its_constraints_asked_with_djangos_errors():
    taken = MemberFactory(member_number="A1234567")
    member = Member.objects.get(pk=MemberFactory().pk)
    member.member_number, member.first_name = taken.member_number, " "

    django_way, asked, queries = errors_both_ways(member)

    assert asked == django_way
    assert asked == {
        "__all__": [
            "A member with this member number already exists (numbers are never reused).",
            "First name may not be blank.",
        ]
    }
    # The number's format and the first name's check in one query, the number's uniqueness in another; the last
    # name, status and classification checks read values the row holds already.
    checks = [query["sql"] for query in queries if "_check_" in query["sql"]]
    assert len(checks) == 1
    assert checks[0].count("_check_") == 2


@pytest.mark.django_db
def test_a_constraint_over_two_fields_is_asked_when_one_of_them_changed():
    """The end date moved before an unchanged start date: the constraint reads both, so it is asked."""
    job = MemberEmployment.objects.get(pk=MemberEmploymentFactory(start_date=dt.date(2021, 1, 4)).pk)
    job.end_date = dt.date(2021, 1, 1)

    django_way, asked, _queries = errors_both_ways(job)

    assert asked == django_way
    assert "The end date cannot be before the start date." in asked["__all__"]


@pytest.mark.django_db
def test_rows_not_read_from_the_database_have_every_constraint_asked():
    """A new row, and a row saved from Python (a factory's), have no stored values to rely on."""
    saved = MemberFactory()
    new = Member(member_number=saved.member_number, first_name="Ana", last_name="Ruiz", classification="journeyman")

    assert saved.loaded_values() == new.loaded_values() == {}
    with pytest.raises(ValidationError) as asked:
        validate_constraints(new)
    with CaptureQueriesContext(connection) as queries:
        validate_constraints(saved)

    assert asked.value.message_dict == {
        "__all__": ["A member with this member number already exists (numbers are never reused)."]
    }
    assert [query["sql"].count("_check_") for query in queries if "_check_" in query["sql"]] == [5]


@pytest.mark.django_db
def test_a_row_copied_under_a_new_key_has_every_constraint_asked():
    """A row read, then given no primary key to be saved as another row, holds values other rows hold."""
    copy = Member.objects.get(pk=MemberFactory().pk)
    copy.pk = None

    with pytest.raises(ValidationError) as asked:
        validate_constraints(copy)

    assert asked.value.message_dict == {
        "__all__": ["A member with this member number already exists (numbers are never reused)."]
    }


@pytest.mark.django_db
def test_a_row_changed_since_it_was_read_is_refused_by_the_database_with_the_constraints_message():
    """The number the form sends back is the one the row was read with, so it is not asked again; someone
    renumbered the member meanwhile and another member took the number: the save is refused, and the message
    is the constraint's own (what the portal's views show, ip2a.views.SaveInTransactionMixin)."""
    member = Member.objects.get(pk=MemberFactory(member_number="1111111").pk)
    Member.objects.filter(pk=member.pk).update(member_number="2222222")
    MemberFactory(member_number="1111111")
    form = MemberForm(
        {"member_number": "1111111", "first_name": "Ana", "last_name": "Ruiz", "classification": "journeyman"},
        instance=member,
    )

    assert form.is_valid(), form.errors
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        form.save()
    assert integrity_error_message(refused.value) == (
        "A member with this member number already exists (numbers are never reused)."
    )


@pytest.mark.django_db
def test_a_partial_unique_constraint_is_asked_when_a_field_of_its_condition_changed():
    """One current job per member: a job read as past and made current again is asked; one left as it was
    is not. A saved or refreshed row has no stored values to rely on any more."""
    job = MemberEmployment.objects.get(pk=MemberEmploymentFactory(end_date=dt.date(2022, 1, 1)).pk)
    [one_current_job] = [c for c in MemberEmployment._meta.constraints if c.name.endswith("one_current_job")]

    assert settled_by_stored_values(MemberEmployment, one_current_job, changed_fields(job))
    job.end_date, job.is_current = None, True
    assert not settled_by_stored_values(MemberEmployment, one_current_job, changed_fields(job))
    job.refresh_from_db()
    assert changed_fields(job) is None
