"""benchmarks/ as a suite (issue 24): every result file in the one schema and in its suite, every
config naming a committed result, the README's tables generated from the results, no sys.path
patches. Reads files only: no benchmark runs here."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
SCHEMA = ("name", "config", "scores", "versions", "data_sha256", "commit", "date")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_json_result_file_carries_the_schema_fields():
    files = sorted((BENCH / "results").rglob("*.json"))
    assert len(files) > 100
    for f in files:
        d = json.loads(f.read_text(encoding="utf-8"))
        missing = [k for k in SCHEMA if k not in d]
        assert not missing, f"{f.relative_to(ROOT)} lacks {missing}; wrap it with python benchmarks/legacy.py"
        assert isinstance(d["config"], dict) and isinstance(d["name"], str), f
        if d.get("legacy"):
            assert "note" in d["legacy"], f


def test_results_sit_in_their_suite():
    run = _script("run")
    loose = sorted(p.name for p in (BENCH / "results").iterdir() if p.is_file())
    assert loose == [], f"loose result files {loose}: python benchmarks/legacy.py files them into their suite"
    suites = {p.name for p in (BENCH / "results").iterdir() if p.is_dir()}
    assert {"retrieval", "guard", "qa", "generator", "latency", "stress", "milvus"} <= suites
    legacy = _script("legacy")
    assert suites <= {s for _, s in legacy.SUITES}
    assert run.SCHEMA == SCHEMA == legacy.SCHEMA


def test_every_config_names_its_committed_result():
    run = _script("run")
    configs = sorted((BENCH / "configs").glob("*/*.toml"))
    assert {p.parent.name for p in configs} >= {"retrieval", "guard"}
    for path in configs:
        spec = run.load_config(path)
        assert spec["suite"] == path.parent.name, path
        assert run.result_path(spec).is_file(), f"{path.name}: no committed {run.result_path(spec)}"
        assert spec["config"].get("data") or spec["bench"] == "script", path


def test_the_check_compares_numbers_but_not_timings():
    run = _script("run")
    committed = {"scores": {"results": {"hybrid": {"ndcg@10": 0.4125, "search_seconds": 3.0}}, "claims_per_s": 2.0}}
    fresh = {"scores": {"results": {"hybrid": {"ndcg@10": 0.4131, "search_seconds": 9.0}}, "claims_per_s": 7.0}}
    assert run.compare(committed, fresh, 0.002) == ([], 1)
    fresh["scores"]["results"]["hybrid"]["ndcg@10"] = 0.4150
    diffs, n = run.compare(committed, fresh, 0.002)
    assert n == 1 and diffs == [("results/hybrid/ndcg@10", 0.4125, 0.4150)]


def test_the_readme_is_what_report_writes_and_short():
    report = _script("report")
    text = (BENCH / "README.md").read_text(encoding="utf-8")
    assert report.rewrite(text) == text, "benchmarks/README.md is stale: run python benchmarks/report.py"
    assert text.count("\n") <= 250
    assert "docs/benchmark-history.md" in text and (ROOT / "docs" / "benchmark-history.md").is_file()


def test_every_shipped_calibration_names_its_committed_fit_report():
    """The README's calibration table shows the fits the package ships: each shipped calibration
    records the command that wrote it, and the report its --json names is committed."""
    report = _script("report")
    fits, shipped = report.shipped_fits(), report.shipped_calibrations()
    assert all(c.is_file() for c in shipped) and len(fits) == len(shipped) >= 2  # one report each
    for name in fits:
        assert (BENCH / "results" / "calibration" / name).is_file(), name


def test_no_sys_path_patches_in_benchmarks_or_recipes():
    patch = re.compile(r"sys\.path\.(insert|append)|sys\.path\s*\+?=")
    scripts = [p for d in ("benchmarks", "recipes") for p in (ROOT / d).rglob("*.py") if "data" not in p.relative_to(ROOT).parts]  # not the docs corpora
    assert len(scripts) > 30
    hits = [str(p.relative_to(ROOT)) for p in scripts if patch.search(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_recipes_and_stress_tests_have_their_own_place():
    assert (ROOT / "recipes" / "generator05_train.sh").is_file() and (BENCH / "stress" / "load_test.py").is_file()
    flat = {p.name for p in BENCH.iterdir()}
    assert not flat & {"crash_kills.py", "bad_requests.py", "load_test.py", "adapter_scale.sh", "verifier_v2_train.sh"}
    assert not [p.name for p in BENCH.glob("*train*.sh")] and not [p.name for p in BENCH.glob("generator*.sh")]
    with open(BENCH / "configs" / "retrieval" / "cranfield_default_v2.toml", "rb") as f:
        assert tomllib.load(f)["config"]["data"].endswith("cranfield/beir")
