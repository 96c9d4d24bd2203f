"""scripts/statement_log_ops.py: PostgreSQL's statement log grouped by statement, heaviest first."""

import importlib.util

from .test_deploy_files import ROOT

spec = importlib.util.spec_from_file_location("statement_log_ops", ROOT / "scripts" / "statement_log_ops.py")
statement_log_ops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(statement_log_ops)

LOG = """\
2026-11-27 14:00:11.271 UTC [12929] LOG:  duration: 2.500 ms  statement: SELECT set_config('pghistory.context_id', \
'8a42', true), set_config('pghistory.context_metadata', '{"url": "/members/5/"}', true); INSERT INTO "log" ("a", "b")
\tVALUES (5, 'it''s')
2026-11-27 14:00:11.300 UTC [12930] LOG:  duration: 0.250 ms  statement: SELECT "id" FROM "member" WHERE "id" IN (1, 2)
2026-11-27 14:00:11.310 UTC [12930] LOG:  duration: 0.750 ms  statement: SELECT "id" FROM "member" WHERE "id" IN (7)
2026-11-27 14:00:11.320 UTC [12931] LOG:  duration: 1.500 ms  statement: INSERT INTO "log" ("a", "b") VALUES (6, 'x')
2026-11-27 14:00:11.330 UTC [12931] ERROR:  duplicate key value violates unique constraint "x"
2026-11-27 14:00:11.331 UTC [12931] DETAIL:  Key (a)=(6) already exists.
2026-11-27 14:00:12.000 UTC [12900] LOG:  checkpoint starting: time
"""


def test_statements_are_grouped_by_shape_with_their_durations(tmp_path):
    log = tmp_path / "statements.log"
    log.write_text(LOG)

    durations = statement_log_ops.read(str(log))

    assert durations == {
        'INSERT INTO "log" ("a", "b") VALUES (N, ?)': [2.5, 1.5],
        'SELECT "id" FROM "member" WHERE "id" IN (N…)': [0.25, 0.75],
    }


def test_the_report_lists_the_heaviest_statement_first(tmp_path, capsys):
    log = tmp_path / "statements.log"
    log.write_text(LOG)

    statement_log_ops.main(str(log), rows=5)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4 statements, 0.0 s of the server's time"
    assert lines[2].split()[:4] == ["80.0%", "4", "2", "2.00"]
    assert lines[2].endswith('INSERT INTO "log" ("a", "b") VALUES (N, ?)')
    assert lines[3].split()[:4] == ["20.0%", "1", "2", "0.50"]
    assert len(lines) == 4
