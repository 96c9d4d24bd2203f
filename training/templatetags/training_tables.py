"""The student list's rows, written in Python for the reason members/templatetags/member_tables.py gives:
fifty rows through the template language were most of a list page's first view."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def student_rows(students) -> str:
    """One <tr> per student of a list page (with the current cohort and program status the list view puts on
    each: training.views.students)."""
    rows = []
    for student in students:
        page = conditional_escape(student.get_absolute_url())
        middle = f" {conditional_escape(student.middle_name)}" if student.middle_name else ""
        name = f"{conditional_escape(student.last_name)}, {conditional_escape(student.first_name)}{middle}"
        deleted = ' <span class="badge badge-deleted">Deleted</span>' if student.deleted_at else ""
        cohort = conditional_escape(student.current_cohort) if student.current_cohort else "—"
        rows.append(
            "<tr>\n"
            f'<td><a href="{page}">{name}</a>{deleted}</td>\n'
            f"<td>{conditional_escape(student.email)}</td>\n"
            f"<td>{conditional_escape(student.phone or '—')}</td>\n"
            f"<td>{cohort}</td>\n"
            f"<td>{conditional_escape(student.program_status_label)}</td>\n"
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)
