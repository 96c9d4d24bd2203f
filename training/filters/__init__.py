"""Training FilterSets: students.py (students, credentials, JATC applications) and cohorts.py (cohorts,
instructors, locations)."""
