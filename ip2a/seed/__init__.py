"""Demo and volume data for IP2A (DOMAIN.md §9): `manage.py seed` and `manage.py stress_seed`.

volumes.py says how much of everything each mode makes, text.py holds the word lists, loader.py writes rows
with PostgreSQL COPY and creates sparse attachment files, and seeder.py generates the data phase by phase from
one seeded random generator, so the same seed, counts and as-of date always give the same data.
"""
