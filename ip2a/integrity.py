"""The integrity-check registry (DOMAIN.md §8): checks, their findings, and their repairs.

Each app's ``integrity.py`` registers its checks with ``@register("<ID>", severity=..., model=...)``. A check
is a function of a ``CheckContext`` that yields ``Issue``s from one set-based query; an issue may carry a
``fix`` (a callable without arguments that repairs exactly that finding from its ids and details) and the
``repair`` text saying what the fix will do. ``run_checks`` runs the selected checks; ``apply_repairs``
applies the fixes, one transaction per check, under history context ``source=repair``.
"""

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from audit.history import history_context

SEVERITIES = ("critical", "warning", "info")


@dataclasses.dataclass
class Issue:
    """One finding: a problem reported by a check, with the ids a repair acts on."""

    message: str
    object_ids: list = dataclasses.field(default_factory=list)
    details: dict = dataclasses.field(default_factory=dict)
    repair: str | None = None  # what the fix would do, in words; None = a person decides
    fix: Callable[[], object] | None = dataclasses.field(default=None, repr=False, compare=False)
    check: str = ""
    app: str = ""
    severity: str = ""
    model: str = ""

    def as_dict(self) -> dict:
        """The finding as DOMAIN.md §8 reports it (JSON-ready)."""
        return {
            "check": self.check,
            "app": self.app,
            "severity": self.severity,
            "model": self.model,
            "object_ids": self.object_ids,
            "message": self.message,
            "details": self.details,
            "repair": self.repair,
        }

    def __str__(self):
        ids = ", ".join(str(pk) for pk in self.object_ids[:10]) + (" …" if len(self.object_ids) > 10 else "")
        return f"{self.check} {self.severity} {self.model} [{ids}] {self.message}"


@dataclasses.dataclass(frozen=True)
class CheckContext:
    """What a check may depend on besides the database: "today" and the storage options."""

    today: date
    verify_checksums: bool = False


@dataclasses.dataclass
class Check:
    id: str
    app: str
    severity: str
    model: str
    func: Callable[[CheckContext], Iterable[Issue]]
    storage: bool = False  # reads the attachment storage (skipped by --no-files)
    needs_checksums: bool = False  # runs only with --verify-checksums (FIL-005)

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0] if self.func.__doc__ else ""


CHECKS: dict[str, Check] = {}


def register(check_id: str, *, severity: str, model: str, storage: bool = False, needs_checksums: bool = False):
    """Register the decorated function as the check ``check_id`` (a DOMAIN.md §8 id such as "EMP-004")."""
    if severity not in SEVERITIES:
        raise ValueError(f"Unknown severity {severity!r} for {check_id}.")

    def decorator(func):
        if check_id in CHECKS and CHECKS[check_id].func.__qualname__ != func.__qualname__:
            raise ValueError(f"Integrity check {check_id} is registered twice.")
        app = func.__module__.split(".")[0]
        CHECKS[check_id] = Check(check_id, app, severity, model, func, storage, needs_checksums)
        return func

    return decorator


def discover() -> dict[str, Check]:
    """Import every installed app's integrity module and return the registry, ordered by id."""
    autodiscover_modules("integrity")
    return dict(sorted(CHECKS.items()))


def select_checks(
    only: Iterable[str] = (), app: str | None = None, no_files: bool = False, verify_checksums: bool = False
) -> list[Check]:
    """The checks to run: by ids or id prefixes (``EMP-001``, ``FIL``), by app, minus storage checks with
    ``no_files``; FIL-005-like checksum checks only with ``verify_checksums``. Unknown names raise ValueError."""
    registry = discover()
    selected = list(registry.values())
    wanted = [name.strip().upper() for name in only if name.strip()]
    if wanted:
        unknown = [name for name in wanted if not any(check_id.startswith(name) for check_id in registry)]
        if unknown:
            raise ValueError(f"Unknown check id or prefix: {', '.join(unknown)}.")
        selected = [check for check in selected if any(check.id.startswith(name) for name in wanted)]
    if app:
        apps_known = {check.app for check in registry.values()}
        if app not in apps_known:
            raise ValueError(f"Unknown app {app!r}; checks exist for: {', '.join(sorted(apps_known))}.")
        selected = [check for check in selected if check.app == app]
    if no_files:
        selected = [check for check in selected if not check.storage]
    if not verify_checksums:
        selected = [check for check in selected if not check.needs_checksums]
    return selected


def run_check(check: Check, context: CheckContext) -> list[Issue]:
    """Run one check and return its findings with check, app, severity and model filled in."""
    issues = []
    for issue in check.func(context):
        issue.check, issue.app, issue.severity = check.id, check.app, check.severity
        issue.model = issue.model or check.model
        issues.append(issue)
    return issues


def run_checks(only: Iterable[str] = (), **options) -> Iterator[Issue]:
    """Run the selected checks (see select_checks for the options) and yield every finding."""
    context = CheckContext(today=timezone.localdate(), verify_checksums=options.get("verify_checksums", False))
    for check in select_checks(only, **options):
        yield from run_check(check, context)


@dataclasses.dataclass
class RepairResult:
    check: str
    object_ids: list
    action: str
    status: str  # planned, applied, failed, skipped
    detail: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def plan_repairs(issues: Iterable[Issue]) -> list[RepairResult]:
    """What --repair would do, without doing it."""
    return [RepairResult(i.check, i.object_ids, i.repair, "planned") for i in issues if i.fix is not None]


def apply_repairs(issues: Iterable[Issue], *, run_id) -> list[RepairResult]:
    """Apply every available fix: one transaction per check under history context source=repair with the
    reason "integrity repair <ID> run <run_id>". A failing check rolls back alone and is reported failed."""
    by_check: dict[str, list[Issue]] = {}
    for issue in issues:
        if issue.fix is not None:
            by_check.setdefault(issue.check, []).append(issue)
    results = []
    for check_id, fixable in by_check.items():
        try:
            with (
                transaction.atomic(),
                history_context(source="repair", reason=f"integrity repair {check_id} run {run_id}", run_id=run_id),
            ):
                for issue in fixable:
                    issue.fix()
        except Exception as exc:  # the check rolls back; the others go on
            results += [RepairResult(check_id, i.object_ids, i.repair, "failed", str(exc)) for i in fixable]
        else:
            results += [RepairResult(check_id, i.object_ids, i.repair, "applied") for i in fixable]
    return results


from ip2a import system_checks  # noqa: E402,F401  (SYS-001, SYS-002 register themselves)
