"""The organization list's rows, written in Python for the reason members/templatetags/member_tables.py gives:
fifty rows through the template language were most of a list page's first view."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def organization_rows(organizations) -> str:
    """One <tr> per organization of a list page (OrganizationQuerySet.for_list: with its primary contacts)."""
    rows = []
    for organization in organizations:
        page = conditional_escape(organization.get_absolute_url())
        contacts = organization.primary_contacts
        if contacts:
            contact = contacts[0]
            phone = f" · {conditional_escape(contact.phone)}" if contact.phone else ""
            primary = f"{conditional_escape(contact.full_name)}{phone}"
        else:
            primary = "—"
        rows.append(
            "<tr>\n"
            f'<td><a href="{page}">{conditional_escape(organization.name)}</a></td>\n'
            f"<td>{conditional_escape(organization.get_org_type_display())}</td>\n"
            f"<td>{conditional_escape(organization.city or '—')}</td>\n"
            f"<td>{conditional_escape(organization.get_salting_score_display() or '—')}</td>\n"
            f"<td>{primary}</td>\n"
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)
