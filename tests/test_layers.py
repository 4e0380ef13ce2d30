"""The import rule of DESIGN.md ("Layout"): every arrow between our packages points one way.

Reads each module's imports with ast (top level and inside functions alike), so an import
hidden in a function to dodge the rule fails here as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# package -> the packages of ours it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "store": {"domain"},
    "workflows": {"domain"},
    "activities": {"domain", "store"},
    "operations": {"domain", "store"},
    "web": {"domain", "store", "operations"},
    "starter": {"domain", "store", "operations", "workflows", "activities", "worker", "sim"},
    "worker": {"domain", "store", "workflows", "activities", "operations"},
    "sim": set(),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def forbidden_arrows(root: Path = ROOT) -> list[str]:
    bad = []
    for package in ALLOWED:
        paths = [root / "worker.py"] if package == "worker" else (root / package).rglob("*.py")
        for path in paths:
            if not path.exists() or "migrations" in path.parts:
                continue
            for line, target in _imports(path):
                if target in ALLOWED and target != package and target not in ALLOWED[package]:
                    bad.append(f"{path.relative_to(root)}:{line} {package} -> {target}")
    return bad


def test_imports_point_one_way() -> None:
    assert forbidden_arrows() == []


def test_the_check_sees_an_arrow_hidden_in_a_function(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.py").write_text("def f():\n    from starter import cli\n")
    assert forbidden_arrows(tmp_path) == ["web/page.py:2 web -> starter"]
