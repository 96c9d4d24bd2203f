"""Training pages, declared on the shared machinery of ip2a/views.py: students.py (students, enrollments,
credentials, JATC applications) and cohorts.py (cohorts, sessions and attendance, instructors, locations)."""
