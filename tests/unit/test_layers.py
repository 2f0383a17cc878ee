"""The import graph: no module imports one of a layer above its own, there is no cycle, and
the commands and job steps reach the engines only through the use cases."""

from __future__ import annotations

import ast
from pathlib import Path

import pik_recon

PACKAGE = Path(pik_recon.__file__).parent
# lowest first; a module belongs to the first layer one of whose prefixes it starts with
LAYERS = (
    ("foundation", ("errors", "money", "whenparse", "paths", "keys", "categories", "locks",
                    "listorder")),
    ("settings", ("config", "config_values", "webhooks.settings", "logs")),
    ("boundaries", ("warehouse", "client", "records", "links", "transactions", "number_format")),
    ("engines", ("sync", "orders", "reconcile", "findings", "attention", "report", "export",
                 "creation", "status", "webhooks", "sandbox")),
    ("use cases", ("usecases",)),
    ("jobs", ("jobs", "demo", "api")),
    ("command line", ("cli", "__main__")),
)
# what only a use case may call: the engines' entry points and the warehouse itself
ENGINE_ENTRIES = {
    "pik_recon.sync": {"sync_accounts"}, "pik_recon.orders": {"load_orders"},
    "pik_recon.reconcile": {"reconcile", "require_synced"},
    "pik_recon.report": {"write_report"}, "pik_recon.export": {"export_parquet"},
    "pik_recon.creation.bulk": {"create_links"},
    "pik_recon.findings": {"acknowledge", "acknowledge_from", "reopen", "findings_of"},
    "pik_recon.status": {"read_status"}, "pik_recon.attention": {"needs_attention"},
    "pik_recon.warehouse": {"Warehouse"},
}
RENDERERS = ("cli/sync.py", "cli/recon.py", "cli/report.py", "cli/export.py", "cli/links.py",
             "cli/findings.py", "cli/status.py", "cli/jobs.py", "jobs/steps.py")


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"pik_recon.{module} belongs to no layer; add it to LAYERS")


def _top_level_imports(path: Path) -> list[tuple[str, set[str]]]:
    """(module, names) imported at the top of the file, not under TYPE_CHECKING."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "pik_recon"):
            names = {a.name for a in node.names}
            found.append((node.module, names))
            found += [(f"{node.module}.{n}", set()) for n in names
                      if (PACKAGE / Path(*node.module.split(".")[1:]) / f"{n}.py").exists()]
        elif isinstance(node, ast.Import):
            found += [(a.name, set()) for a in node.names if a.name.startswith("pik_recon.")]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m.removeprefix("pik_recon.") for m, _ in _top_level_imports(path)
                   if m.removeprefix("pik_recon.") in modules} - {name}
            for name, path in modules.items()}


def test_no_module_imports_one_of_a_higher_layer() -> None:
    graph = _graph()
    assert len(graph) > 60
    upward = [f"{m} ({LAYERS[_layer(m)][0]}) imports {i} ({LAYERS[_layer(i)][0]})"
              for m, imports in graph.items() for i in imports if _layer(i) > _layer(m)]
    assert upward == []


def test_no_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(" -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])
    assert done == set(graph)


def test_commands_and_job_steps_reach_the_engines_only_through_the_use_cases() -> None:
    reached = []
    for relative in RENDERERS:
        for module, names in _top_level_imports(PACKAGE / relative):
            reached += [f"{relative} imports {n} from {module}"
                        for n in names & ENGINE_ENTRIES.get(module, set())]
    assert reached == []
