from django.db import migrations

# The member list and its check statement (ip2a.content) walk the live-member index up to the page asked for
# (OFFSET) as an index-only scan, which reads the table too for every entry on a page not marked all-visible.
# Only VACUUM marks pages so; by default autovacuum waits for 20 % of the table to change (~3,500 of 17,500
# members). After a few load-test runs no page of members_member was all-visible (pg_class.relallvisible 0 of
# 405), and a deep page's check statement fetched every row it walked from the table; the statement log's
# before and after are in docs/benchmarks.md (session 11). Vacuumed after 1 % of the members change or are
# added, the table stays mostly all-visible under an office's or a load test's writes.
SETTINGS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_insert_scale_factor")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_event_owner_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"ALTER TABLE members_member SET ({', '.join(f'{name} = 0.01' for name in SETTINGS)})",
            reverse_sql=f"ALTER TABLE members_member RESET ({', '.join(SETTINGS)})",
        ),
    ]
