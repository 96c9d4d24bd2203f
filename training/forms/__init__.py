"""Training forms: students.py (students, enrollments, credentials, JATC applications) and cohorts.py
(cohorts, sessions and attendance, instructors, locations)."""
