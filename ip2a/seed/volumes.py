"""How much data each seed mode makes (DOMAIN.md §9 table), and how custom counts change it."""

import dataclasses

QUICK, NORMAL, STRESS = "quick", "normal", "stress"


@dataclasses.dataclass
class Volumes:
    mode: str
    organizations: int
    contacts_per_org: tuple[int, int]
    members: int
    jobs_per_member: tuple[int, int] | None  # None: the stress distribution 1 + int(99 * beta(1.3, 4.0))
    students: int
    instructors: int
    locations: int
    cohorts: int
    credentials_per_student: tuple[int, int]
    credentials_for_graduates_only: bool
    jatc_applications: int | None  # a count; None: one per student (normal)
    jatc_graduate_share: float | None  # stress: this share of students with a completed enrollment
    converted_graduates: int
    attachments: int
    attachment_bytes: int
    salting_share: float
    active_share: float
    uniform_classification: bool

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


MODES = {
    QUICK: Volumes(
        mode=QUICK,
        organizations=5,
        contacts_per_org=(1, 2),
        members=10,
        jobs_per_member=(1, 5),
        students=100,
        instructors=10,
        locations=5,
        cohorts=3,
        credentials_per_student=(1, 1),
        credentials_for_graduates_only=False,
        jatc_applications=20,
        jatc_graduate_share=None,
        converted_graduates=1,
        attachments=30,
        attachment_bytes=50_000_000,
        salting_share=0.6,
        active_share=0.85,
        uniform_classification=False,
    ),
    NORMAL: Volumes(
        mode=NORMAL,
        organizations=20,
        contacts_per_org=(1, 3),
        members=50,
        jobs_per_member=(1, 3),
        students=500,
        instructors=50,
        locations=4,
        cohorts=10,
        credentials_per_student=(2, 2),
        credentials_for_graduates_only=False,
        jatc_applications=None,
        jatc_graduate_share=None,
        converted_graduates=5,
        attachments=500,
        attachment_bytes=1_000_000_000,
        salting_share=0.6,
        active_share=0.85,
        uniform_classification=True,
    ),
    STRESS: Volumes(
        mode=STRESS,
        organizations=200,
        contacts_per_org=(2, 4),
        members=10_000,
        jobs_per_member=None,
        students=1_000,
        instructors=500,
        locations=250,
        cohorts=40,
        credentials_per_student=(2, 3),
        credentials_for_graduates_only=True,
        jatc_applications=None,
        jatc_graduate_share=0.6,
        converted_graduates=100,
        attachments=150_000,
        attachment_bytes=30_000_000_000,
        salting_share=0.7,
        active_share=0.88,
        uniform_classification=False,
    ),
}

COUNT_OPTIONS = ("organizations", "members", "students", "instructors", "locations", "cohorts", "attachments")


def volumes_for(mode: str, **counts) -> Volumes:
    """The volumes of ``mode`` with custom counts applied (None = keep the mode's value).

    Dependent volumes follow: converted graduates and quick-mode JATC applications scale with members and
    students; attachment bytes scale with the attachment count unless given.
    """
    base = MODES[mode]
    volumes = dataclasses.replace(base)
    for name in COUNT_OPTIONS:
        if counts.get(name) is not None:
            if counts[name] < 0:
                raise ValueError(f"--{name} cannot be negative.")
            setattr(volumes, name, counts[name])
    if volumes.organizations < 4:
        raise ValueError("--organizations must be at least 4 (the Local, the utility, the training center, the JATC).")
    if counts.get("members") is not None:
        scaled = round(base.converted_graduates * volumes.members / base.members)
        volumes.converted_graduates = min(volumes.members, max(scaled, 1 if volumes.members else 0))
    if volumes.jatc_applications is not None and counts.get("students") is not None and base.students:
        volumes.jatc_applications = round(base.jatc_applications * volumes.students / base.students)
    if counts.get("attachment_bytes") is not None:
        volumes.attachment_bytes = counts["attachment_bytes"]
    elif counts.get("attachments") is not None and base.attachments:
        volumes.attachment_bytes = round(base.attachment_bytes * volumes.attachments / base.attachments)
    if volumes.attachments and volumes.attachment_bytes < volumes.attachments * 1024:
        raise ValueError("--attachment-bytes must allow at least 1 KB per attachment.")
    return volumes
