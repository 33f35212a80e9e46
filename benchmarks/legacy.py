"""File loose result files into their suite and give every JSON result the result schema.

    python benchmarks/legacy.py           # move benchmarks/results/<file> to results/<suite>/, wrap old JSON
    python benchmarks/legacy.py --dry-run

Results written before the suite (issue 24) have each script's own shape and record neither their
config, nor the versions, nor the commit. This wraps such a file without losing anything: the file's
whole content becomes ``scores``; ``config`` is the command that wrote it, found in the docs and
scripts that name the file (``null`` if none does); ``commit`` and ``date`` come from ``git log``
(the last commit that changed the file before it was wrapped); ``versions`` and ``data_sha256`` are
``null`` unless the file recorded them; ``legacy`` says all this. Files of ``groundqa bench
retrieval`` keep their recorded config and versions in place. JSONL, PNG and Markdown files are
data and reports, not results: they are only moved. Idempotent: a file with the schema is left alone.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA = ("name", "config", "scores", "versions", "data_sha256", "commit", "date")
# the suite of a loose file, by the start of its name (first match wins)
SUITES = (
    ("retrieval_embed_speed", "speed"), ("speed", "speed"), ("retrieval_", "retrieval"), ("milvus_", "milvus"),
    ("guard_", "guard"), ("int8_verifier", "guard"), ("calibration_", "calibration"),
    ("bad_requests", "stress"), ("crash_", "stress"), ("serve_load", "stress"),
    ("latency_", "latency"),
    ("generator", "generator"), ("curve_", "generator"), ("int8_check", "generator"), ("openai_generator", "generator"),
    ("pubmedqa_untitled", "qa"), ("pubmedqa", "generator"),
    ("qa_", "qa"), ("docs_qa", "qa"), ("demo_", "qa"), ("serve_oos", "qa"), ("review_loop", "qa"),
)
# where the commands that wrote the results are written down
SOURCES = ("docs/benchmark-history.md", "benchmarks/README.md", "benchmarks/*.sh", "benchmarks/*.py", "benchmarks/*/*.py",
           "recipes/*.sh", "recipes/*.py")


def suite_of(name: str) -> str:
    for prefix, suite in SUITES:
        if name.startswith(prefix):
            return suite
    return "other"


def has_schema(d: Any) -> bool:
    return isinstance(d, dict) and all(k in d for k in SCHEMA)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def last_commit(path: Path) -> tuple[str | None, str | None]:
    """The last commit that changed ``path`` and its date; for a file new or changed since (written
    by hand in this checkout), the checkout's HEAD and the file's modification time."""
    rel = str(path.relative_to(ROOT))
    if git("status", "--porcelain", "--", rel):
        import datetime

        mtime = datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.timezone.utc)
        return git("rev-parse", "HEAD") or None, mtime.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = git("log", "-1", "--follow", "--format=%H %cI", "--", rel)
    if not out:
        return None, None
    sha, date = out.split(" ", 1)
    return sha, date


# a line that is a command (not prose that quotes one): it starts with the program or its environment
COMMAND = re.compile(r"^(?:[A-Z_]+=\S*\s+)*(?:nice -n \d+ |nohup |time )*(?:groundqa|python3?|bash|\./scripts/|(?:benchmarks|recipes)/\S+\.sh\b)\S*")


def command_in(text: str) -> str | None:
    """``text`` if it is a command line (a leading ``#`` and list dash dropped), else the first
    backquoted command in it (prose that quotes one), else None."""
    line = text.strip().lstrip("#-").strip()
    if COMMAND.match(line):
        return line
    for quoted in re.findall(r"`([^`]+)`", text):
        if COMMAND.match(quoted.strip()):
            return quoted.strip()
    return None


def find_command(key: str) -> tuple[str | None, str | None]:
    """The first command line in the docs or scripts that names ``key`` (a result's path under
    results/, or its top folder), with its continuation lines; and where it was found."""
    pat = re.compile(r"(?<![\w.-])(?:benchmarks/results/(?:\w+/)?|\$\{?\w+\}?/(?:\w+/)?|results/)?" + re.escape(key) + r"(?![\w.-])")
    for glob in SOURCES:
        for src in sorted(ROOT.glob(glob)):
            if src.name == "legacy.py":
                continue
            lines = src.read_text(encoding="utf-8", errors="replace").splitlines()
            for i, line in enumerate(lines):
                if not pat.search(line):
                    continue
                start = i
                while start > 0 and lines[start - 1].rstrip().endswith("\\"):
                    start -= 1
                end = i
                while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
                    end += 1
                cmd = command_in(" ".join(x.strip().rstrip("\\").strip() for x in lines[start:end + 1]))
                if cmd:
                    return cmd, str(src.relative_to(ROOT))
    return None, None


def recorded_command(d: Any) -> str | None:
    """A command the file recorded itself (``command`` at the top, or in its config/settings)."""
    if not isinstance(d, dict):
        return None
    for holder in (d, d.get("config"), d.get("settings"), d.get("meta")):
        if isinstance(holder, dict) and isinstance(holder.get("command"), str):
            return holder["command"]
    return None


def wrap(path: Path, commit: tuple[str | None, str | None]) -> dict[str, Any]:
    d = json.loads(path.read_text(encoding="utf-8"))
    rel = path.relative_to(RESULTS)
    key = rel.parts[1] if len(rel.parts) > 2 else rel.name  # a report folder's files: the folder names them
    cmd, where = recorded_command(d), "the file itself"
    if not cmd:
        cmd, where = find_command(key)
    retrieval = isinstance(d, dict) and isinstance(d.get("config"), dict) and "results" in d and "dataset" in d
    config = dict(d["config"]) if retrieval else {}
    config["command"] = cmd
    scores = {"dataset": d["dataset"], "results": d["results"]} if retrieval else d
    versions = d.get("versions") if isinstance(d, dict) and isinstance(d.get("versions"), dict) else None
    name = (cmd.split(" --")[0][:80] if cmd else str(rel))
    return {
        "name": name, "config": config, "scores": scores, "versions": versions, "data_sha256": None,
        "commit": commit[0], "date": commit[1],
        "legacy": {"note": "written before the result schema (issue 24) and wrapped by benchmarks/legacy.py: "
                           "'scores' is the file's content" + (" (less its config and versions, which are in their fields)" if retrieval else "")
                           + "; 'config.command' is the command that names this file in " + (where or "no doc or script (null)")
                           + "; 'commit' and 'date' are the last commit that changed the file before it was wrapped (git log), "
                           "or the checkout's HEAD and the file's time for a file not committed yet; "
                           "null = not recorded", "command_from": where},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    commits: dict[Path, tuple[str | None, str | None]] = {}
    for p in sorted(RESULTS.iterdir()):
        if p.name.startswith(".") or p.name == "README.md":
            continue
        if p.is_dir() and (p / ".suite").exists() or p.is_dir() and p.name in {s for _, s in SUITES} | {"other"}:
            continue
        dest = RESULTS / suite_of(p.name) / p.name
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            commits[dest / f.relative_to(p) if p.is_dir() else dest] = last_commit(f)
        print(f"move {p.relative_to(ROOT)} -> {dest.relative_to(ROOT)}")
        if not args.dry_run:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if subprocess.run(["git", "mv", str(p), str(dest)], cwd=ROOT, capture_output=True).returncode:
                p.rename(dest)
    if args.dry_run:
        return 0
    for f in sorted(RESULTS.rglob("*.json")):
        d = json.loads(f.read_text(encoding="utf-8"))
        if has_schema(d):
            continue
        w = wrap(f, commits.get(f) or last_commit(f))
        f.write_text(json.dumps(w, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrapped {f.relative_to(ROOT)} (command from {w['legacy']['command_from']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
