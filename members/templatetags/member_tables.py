"""The rows of the member tables, written in Python: the employment history on a member's page and the member
list.

A member page's first view rendered each job's row through the template language at ~0.12 ms a row (7 ms of a
59-job member's 11 ms body; timeit in a shell, not a recorded benchmark), and a member list page spent ~2.4 ms on
its fifty rows: a template variable, condition or link costs microseconds, and these rows have dozens.
employment_rows() and member_rows() write the same HTML — the same links (ip2a.routes, as {% url %} builds them),
dates ("Y-m-d"), localized numbers and escaping, with whitespace where the loops had it (between cells: a row's
text, which screen readers and the browser tests read, keeps its cells apart) — for a fraction of that. The tables
around the rows stay in templates/members/.
"""

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from ip2a.routes import shaped_reverse
from ip2a.templatetags.portal_builtins import DATE_FORMATS, current_app

register = template.Library()
ymd = DATE_FORMATS["Y-m-d"]
FILES_ARGS = frozenset({0, 1})  # "members", "memberemployment": part of the route's shape, as in a template


@register.simple_tag(takes_context=True)
def employment_rows(context, jobs) -> str:
    """One <tr> per job of ``jobs`` (the member's, newest first), with a files column if the user may view
    attachments and an actions column unless the member is deleted, as the table's header has."""
    user = context["request"].user
    show_files = user.has_perm("attachments.view_attachment")
    show_actions = not context["object"].deleted_at
    may_change = user.has_perm("members.change_memberemployment")
    may_delete = user.has_perm("members.delete_memberemployment")
    app = current_app(context)

    def link(view_name, pk) -> str:
        return shaped_reverse(view_name, [pk], current_app=app)

    rows = []
    for job in jobs:
        employer = job.organization
        employer_url = conditional_escape(employer.get_absolute_url())
        employer_link = f'<a href="{employer_url}">{conditional_escape(employer)}</a>'
        if job.is_current:
            until = '<span class="badge badge-current">Current</span>'
        else:
            until = ymd(job.end_date) if job.end_date else ""
        rate = "—" if job.hourly_rate is None else f"${conditional_escape(localize(job.hourly_rate))}"
        cells = [
            f"<td>{employer_link}</td>",
            f"<td>{conditional_escape(job.job_title) if job.job_title else '—'}</td>",
            f"<td>{ymd(job.start_date)}</td>",
            f"<td>{until}</td>",
            f"<td>{rate}</td>",
        ]
        if show_files:
            files = shaped_reverse(
                "attachments:attachment_files",
                ["members", "memberemployment", job.pk],
                fixed=FILES_ARGS,
                current_app=app,
            )
            count = getattr(job, "file_count", 0) or 0
            cells.append(f'<td><a href="{conditional_escape(files)}" aria-label="Files of this job">{count}</a></td>')
        if show_actions:
            actions = []
            if may_change:
                edit = f'<a href="{link("members:employment_update", job.pk)}">Edit</a>'
                if job.is_current:
                    edit += f' · <a href="{link("members:employment_end", job.pk)}">End</a>'
                actions.append(edit)
            if may_delete:
                actions.append(f'<a href="{link("members:employment_delete", job.pk)}">Delete</a>')
            cells.append(f"<td>\n{' · '.join(actions)}\n</td>")
        body = "\n".join(cells)
        rows.append(f'<tr id="employment-{job.pk}">\n{body}\n</tr>')
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped or a number)


@register.simple_tag(takes_context=True)
def member_rows(context, members) -> str:
    """One <tr> per row of a member list page (Member.list_page: the columns it reads, the current employer's id
    and name, and the labels MemberListView.prepare_results puts on)."""
    app = current_app(context)
    rows = []
    for member in members:
        middle = f" {conditional_escape(member.middle_name)}" if member.middle_name else ""
        name = f"{conditional_escape(member.last_name)}, {conditional_escape(member.first_name)}{middle}"
        deleted = ' <span class="badge badge-deleted">Deleted</span>' if member.deleted_at else ""
        status = conditional_escape(member.status)
        page = conditional_escape(member.get_absolute_url())
        number = f'<a href="{page}">{conditional_escape(member.member_number)}</a>'
        if member.employer_id:
            url = shaped_reverse("organizations:organization_detail", [member.employer_id], current_app=app)
            employer = f'<a href="{conditional_escape(url)}">{conditional_escape(member.employer_name)}</a>'
        else:
            employer = "—"
        rows.append(
            "<tr>\n"
            f"<td>{number}</td>\n"
            f"<td>{name}</td>\n"
            f"<td>{conditional_escape(member.classification_label)}</td>\n"
            f'<td><span class="badge badge-{status}">{conditional_escape(member.status_label)}</span>{deleted}</td>\n'
            f"<td>{employer}</td>\n"
            "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value above is escaped)
