"""History may never be switched off outside the seed (DOMAIN.md §6): no pgtrigger.ignore, no disabled triggers.

Every Python file of the repository is scanned, migrations included. `pgtrigger.ignore` (however imported)
and trigger switches are allowed only in the seed code path. Test files may inject faults on purpose with SQL
(`session_replication_role`, `DISABLE TRIGGER`, `DROP TRIGGER`, rolled back with the test's transaction), but
may not use pgtrigger's switches either.
"""

import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "venv", "var", ".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Text that switches history off, whatever the code around it: SQL in strings included.
TEXT_PATTERNS = {
    "pgtrigger.ignore": re.compile(r"pgtrigger\s*\.\s*ignore\b"),
    "session_replication_role": re.compile(r"session_replication_role", re.IGNORECASE),
    "DISABLE TRIGGER": re.compile(r"\bDISABLE\s+TRIGGER\b", re.IGNORECASE),
    "DROP TRIGGER": re.compile(r"\bDROP\s+TRIGGER\b", re.IGNORECASE),
}
# pgtrigger functions that skip or remove triggers at run time.
PGTRIGGER_SWITCHES = {"ignore", "disable", "uninstall"}
ALLOWED_IN_TESTS = {"session_replication_role", "DISABLE TRIGGER", "DROP TRIGGER"}
# test_db_roles.py sets pgtrigger's switch as the portal's database role to show that it gains nothing by it;
# dbroles.py names the setting in its copy of pgtrigger's function, which honours it for the owner alone.
ALLOWED_IN_FILES = {"ip2a/tests/test_db_roles.py": {"pgtrigger.ignore"}, "ip2a/dbroles.py": {"pgtrigger.ignore"}}


def is_seed_code(path: str) -> bool:
    return path == "ip2a/management/commands/seed.py" or path.startswith("ip2a/seed")


def is_test_code(path: str) -> bool:
    parts = path.split("/")
    return "tests" in parts[:-1] or parts[-1].startswith("test_") or parts[-1] == "conftest.py"


def python_files(root=ROOT):
    """Yield (path relative to root, text) for every Python file, skipping virtualenvs and var/."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix == ".py" or is_python_script(path):
                yield path.relative_to(root).as_posix(), path.read_text(errors="replace")


def is_python_script(path: Path) -> bool:
    """An executable without the .py suffix (the ip2adb wrapper) that Python runs."""
    try:
        if path.suffix or not path.stat().st_mode & 0o111:
            return False
        with path.open("rb") as file:
            return b"python" in file.readline()
    except OSError:  # a dangling link or an unreadable file is no script of ours
        return False


def pgtrigger_switch_uses(source: str):
    """Yield (line, name) for every pgtrigger switch imported by name or reached as an attribute."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {alias.asname or alias.name for alias in node.names if alias.name.startswith("pgtrigger")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pgtrigger"):
            for alias in node.names:
                if alias.name in PGTRIGGER_SWITCHES:
                    yield node.lineno, f"from {node.module} import {alias.name}"
                if alias.name in {"core", "runtime"}:
                    aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PGTRIGGER_SWITCHES:
            base = ast.unparse(node.value)
            if base in aliases or base.split(".")[0] in aliases:
                yield node.lineno, f"{base}.{node.attr}"


def offences(root=ROOT):
    for path, source in python_files(root):
        if path == THIS_FILE or is_seed_code(path):
            continue
        allowed = (ALLOWED_IN_TESTS if is_test_code(path) else set()) | ALLOWED_IN_FILES.get(path, set())
        for number, line in enumerate(source.splitlines(), start=1):
            for name, pattern in TEXT_PATTERNS.items():
                if name not in allowed and pattern.search(line):
                    yield f"{path}:{number}: {name}"
        for number, name in pgtrigger_switch_uses(source):
            yield f"{path}:{number}: {name}"


def test_no_trigger_bypass_outside_the_seed():
    found = sorted(set(offences()))

    assert found == [], "History triggers are bypassed outside the seed code path:\n" + "\n".join(found)


def test_no_trigger_bypass_scan_finds_every_form():
    source = (
        "import pgtrigger\n"
        "from pgtrigger import ignore\n"
        "from pgtrigger import (\n    Protect,\n    disable as off,\n)\n"
        "import pgtrigger as pt\n"
        "with pt.ignore('members.Member:append_only'):\n    pass\n"
        "pgtrigger.runtime.uninstall()\n"
    )

    assert sorted(pgtrigger_switch_uses(source)) == [
        (2, "from pgtrigger import ignore"),
        (3, "from pgtrigger import disable"),
        (8, "pt.ignore"),
        (10, "pgtrigger.runtime.uninstall"),
    ]
    assert [
        name for name, pattern in TEXT_PATTERNS.items() if pattern.search("ALTER TABLE x disable  trigger all")
    ] == ["DISABLE TRIGGER"]


def test_no_trigger_bypass_scan_allows_only_the_seed_and_fault_injecting_tests(tmp_path):
    files = {
        "ip2a/management/commands/seed.py": "import pgtrigger\nwith pgtrigger.ignore('members.Member:insert'):\n",
        "ip2a/seed/loader.py": "SQL = 'SET session_replication_role = replica'\n",
        "members/services.py": "import pgtrigger\n\nwith pgtrigger.ignore('x'):\n    pass\n",
        "members/tests/test_faults.py": "from pgtrigger import ignore\nSQL = 'ALTER TABLE t DISABLE TRIGGER x'\n",
        "members/tests/test_more_faults.py": "SQL = 'SET session_replication_role = replica; DROP TRIGGER x ON t'\n",
        "members/migrations/0002_fix.py": "SQL = 'ALTER TABLE members_member DISABLE TRIGGER ALL'\n",
        "members/integrity.py": "SQL = 'DROP TRIGGER pgtrigger_insert_insert ON members_member'\n",
        ".venv/lib/site.py": "import pgtrigger\npgtrigger.ignore('x')\n",
        "ip2adb": "#!/usr/bin/env python3\nSQL = 'SET session_replication_role = replica'\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "ip2adb").chmod(0o755)

    assert sorted(set(offences(tmp_path))) == [
        "ip2adb:2: session_replication_role",
        "members/integrity.py:1: DROP TRIGGER",
        "members/migrations/0002_fix.py:1: DISABLE TRIGGER",
        "members/services.py:3: pgtrigger.ignore",
        "members/tests/test_faults.py:1: from pgtrigger import ignore",
    ]


def test_no_trigger_bypass_scan_covers_the_repository():
    paths = {path for path, _ in python_files()}

    assert {"manage.py", "audit/history.py", THIS_FILE, "members/migrations/0001_initial.py"} <= paths
    assert not any(path.startswith((".venv/", "var/")) for path in paths)
