"""The import graph of src/groundqa (issue 24): no cycle, the stages side by side, the fakes on the
records. Read from the source's AST, every import counted (module level, in functions, under
TYPE_CHECKING)."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "groundqa"
STAGES = ("documents", "index", "generate", "verify")
# what a stage may import besides its own package: the shared layer (records, errors, text grammar,
# model resolution, embedders, runtime and small utilities)
SHARED = {"groundqa.types", "groundqa.errors", "groundqa.text", "groundqa.models", "groundqa.embed", "groundqa.runtime",
          "groundqa.ids", "groundqa.fsutil", "groundqa.int8store", "groundqa.protocols", "groundqa.markdown", "groundqa.testing"}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if pkg else parts)] = (p, pkg)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, (path, pkg) in mods.items():
        targets: set[str] = set()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: None if pkg else -1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                found = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix for a in node.names]
            else:
                continue
            for t in found:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    targets.add(t)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_the_graph_is_read():
    graph = import_graph()
    assert "groundqa.pipeline.core" in graph and "groundqa.types" in graph["groundqa.pipeline.core"]
    assert "groundqa.verify.guard" in graph["groundqa.verify"]


def test_no_import_cycle():
    assert _cycles(import_graph()) == []


def test_no_stage_imports_another():
    graph = import_graph()
    cross = sorted((a, b) for a, ts in graph.items() for b in ts if _stage(a) and _stage(b) and _stage(a) != _stage(b))
    assert cross == []


def test_stages_import_only_their_own_package_and_the_shared_layer():
    graph = import_graph()
    bad = sorted((a, b) for a, ts in graph.items() if _stage(a) for b in ts if _stage(b) != _stage(a) and b not in SHARED)
    assert bad == []


OFFLINE = ("datasets", "metrics", "train", "eval")


def test_offline_work_is_out_of_the_request_path():
    # data sets, metrics, training and evaluation: their own packages, which no stage, the pipeline or the
    # shared layer imports (the service's review loop reads SQuAD's answer matching: serve.audit)
    graph = import_graph()
    request_path = [m for m in graph if _stage(m) or m.split(".")[1:2] == ["pipeline"] or m in SHARED]
    bad = sorted((a, b) for a in request_path for b in graph[a] if b.split(".")[1:2] and b.split(".")[1] in OFFLINE)
    assert bad == []
    for pkg in OFFLINE:
        assert (SRC / pkg / "__init__.py").exists()
    assert not (SRC / "bench").exists()
    assert sorted(str(p.relative_to(SRC)) for p in SRC.rglob("metrics.py")) == []  # one metrics package, no metrics.py besides


def test_offline_packages_do_not_import_the_command_line():
    graph = import_graph()
    assert sorted((a, b) for a, ts in graph.items() if a.split(".")[1:2] and a.split(".")[1] in OFFLINE for b in ts if b.startswith("groundqa.cli")) == []


def test_offline_work_takes_configs_not_command_line_arguments():
    # the command line converts its flags into the dataclass configs; nothing offline reads an argparse Namespace
    graph = import_graph()
    offline = [m for m in graph if m.split(".")[1:2] and m.split(".")[1] in OFFLINE]
    assert offline
    for m in offline:
        path = SRC.parent / (m.replace(".", "/") + ".py")
        path = path if path.exists() else SRC.parent / m.replace(".", "/") / "__init__.py"
        assert "import argparse" not in path.read_text(encoding="utf-8"), m


def test_moved_modules_keep_their_old_import_paths():
    import importlib

    from groundqa._moved import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    from groundqa.bench import squad
    from groundqa.generate import finetune

    assert squad is importlib.import_module("groundqa.datasets.squad") and finetune.FinetuneConfig.__module__ == "groundqa.train.finetune"


def test_only_the_pipeline_package_names_more_than_one_stage_among_the_request_path():
    # the concrete stages meet in groundqa.pipeline (build); core is typed against the protocols
    graph = import_graph()
    assert not any(_stage(b) for b in graph["groundqa.pipeline.core"])
    assert {_stage(b) for b in graph["groundqa.pipeline.build"]} >= {"index", "generate", "verify"}


def test_records_and_fakes_stand_on_the_shared_layer():
    graph = import_graph()
    assert graph["groundqa.types"] <= {"groundqa.text"}
    assert graph["groundqa.protocols"] <= {"groundqa.types"}
    # the fakes: records, errors and the text grammar, plus the guard's claim splitter (KeywordGuard splits as the guard does)
    assert graph["groundqa.testing"] <= {"groundqa.types", "groundqa.errors", "groundqa.text", "groundqa.verify.claims"}


def test_fit_works_on_rankings_not_on_the_index():
    graph = import_graph()
    assert "groundqa.index.hybrid" not in graph["groundqa.index.fit"]
    assert "_dense_index" not in (SRC / "index" / "fit.py").read_text(encoding="utf-8")


def test_one_citation_grammar():
    import re

    pattern = re.compile(r"re\.compile\(r?[\"'][^\"']*\\\[\(?\\d")  # "\[\d" or "\[(\d"
    hits = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.name != "text.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_cli_bench_owns_every_bench_subcommand():
    owners = sorted(p.name for p in (SRC / "cli").glob("*.py") if "bench_sub.add_parser(" in p.read_text(encoding="utf-8"))
    assert owners == ["bench.py"]
    from groundqa.cli import build_parser

    parser = build_parser()
    bench = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "bench")[1]
    names = list(bench._subparsers._group_actions[0].choices)
    assert names == ["retrieval", "qa", "guard"]


def test_tests_mirror_the_source_tree():
    tests = SRC.parents[1] / "tests"
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert packages - {"pipeline"} <= folders, sorted(packages - folders)  # the pipeline's tests: tests/test_pipeline.py, test_policy.py
    assert not (tests / "bench").exists()  # groundqa.bench moved to datasets, metrics and eval (stage 2)


def test_markers_are_strict_and_the_default_run_leaves_out_slow_and_gpu():
    import tomllib

    opts = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in opts["addopts"] and "not slow and not gpu" in opts["addopts"]
    assert {m.split(":")[0] for m in opts["markers"]} == {"slow", "gpu"}
