"""Every package pik-recon imports is declared where it belongs: the product's own in
`dependencies`, those only the sandbox imports in the extra `sandbox`; and without that extra
the sandbox's commands say what to install."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "pik_recon"


def _name(requirement: str) -> str:
    for mark in "<>=![; ":
        requirement = requirement.split(mark)[0]
    return requirement.lower().replace("_", "-")


def _imported() -> dict[str, set[str]]:
    """Top-level modules imported outside the standard library -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "pik_recon":
                    found.setdefault(top, set()).add(str(path.relative_to(PACKAGE)))
    return found


def test_each_import_is_declared_where_it_belongs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {_name(r) for r in project["dependencies"]}
    extra = {_name(r) for r in project["optional-dependencies"]["sandbox"]}
    distributions = packages_distributions()
    imported = _imported()
    assert {"duckdb", "markupsafe", "sortedcontainers"} <= set(imported)  # the walk saw them
    wrong = []
    for module, files in sorted(imported.items()):
        (dist,) = {d.lower().replace("_", "-") for d in distributions[module]}
        belongs = ("sandbox" if all(f.startswith("sandbox/") for f in files)
                   else "dependencies")
        declared = ("dependencies" if dist in core else "sandbox" if dist in extra else None)
        if declared != belongs:
            wrong.append((module, dist, f"declared in {declared}, belongs in {belongs}"))
    assert wrong == []
    # what `pik-recon sandbox` looks up before it runs is what the extra installs
    from pik_recon.sandbox import EXTRA_MODULES
    assert {distributions[m][0].lower() for m in EXTRA_MODULES} == extra


@pytest.mark.parametrize("args", [["sandbox", "serve", "--port", "0"], ["demo"]])
def test_without_the_sandbox_extra_its_commands_say_what_to_install(args: list[str]) -> None:
    probe = ("import sys; sys.modules['sortedcontainers'] = None; "
             "from pik_recon.cli import main; main(sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert (f"Error: `pik-recon {args[0]}` runs the sandbox, which needs sortedcontainers; it "
            "comes with the sandbox extra: pip install 'pik-recon[sandbox]'") in done.stderr
    listed = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0
    assert re.search(rf"^  {args[0]} +\(not installed: pip install 'pik-recon\[sandbox\]'\)$",
                     listed.stdout, re.MULTILINE), listed.stdout
