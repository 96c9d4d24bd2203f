"""Training workflows (DOMAIN.md §3 status transitions): students.py (enrollments, credentials, JATC
applications) and cohorts.py (cohort status and cancellation, instructor assignments, attendance sheets,
soft-delete guards)."""
