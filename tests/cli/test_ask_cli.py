"""Issue 17: `groundqa ask` for a docs user: many questions from a file in one run with the time
report and the `serve` hint (item 7), support printed with its threshold and short-answer claims
shown as the answer's words (items 5, 8), and `--index` on a folder of documents (item 9).

The stages are the public fakes (hash embedder index on disk, extractive generator, keyword
guard) patched in for the default ones: what is tested is the command's wiring and output; the
real models are tested in tests/serve/test_real_stages.py and the benchmarks."""

from __future__ import annotations

import argparse
import json

import pytest

from groundqa.cli import main
from groundqa.cli import ask as ask_cmd
from groundqa.cli.ask import claim_shown, read_questions, render_answer
from groundqa.errors import ConfigError
from groundqa.index import HybridIndex
from groundqa.pipeline import Pipeline
from groundqa.testing import ExtractiveGenerator, HashEmbedder, KeywordGuard

from ..index.corpus import make_chunks


def run(capsys, *argv):
    try:
        code = main(list(map(str, argv)))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def index_dir(tmp_path):
    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks())
    return idx.save(tmp_path / "idx")


@pytest.fixture()
def fake_stages(monkeypatch):
    built = {}

    def fake(index, generator, verifier, policy, top_k, judge=None, server_model=None, context="windows", threads="auto"):
        built["policy"] = policy
        built["context"] = context
        built["judge"] = judge
        built["generator"], built["server_model"] = generator, server_model
        return Pipeline(index, ExtractiveGenerator(), KeywordGuard(), policy=policy or "abstain", top_k=top_k)

    monkeypatch.setattr(ask_cmd, "_pipeline", fake)
    return built


def test_read_questions_formats_and_errors(tmp_path):
    (tmp_path / "q.txt").write_text("# docs questions\nWho discovered oxygen?\n\nWhat is the capital of Poland?\n")
    assert read_questions(tmp_path / "q.txt") == ["Who discovered oxygen?", "What is the capital of Poland?"]
    (tmp_path / "q.json").write_text(json.dumps({"questions": [{"question": "A?"}, {"question": "B?", "answers": ["b"]}]}))
    assert read_questions(tmp_path / "q.json") == ["A?", "B?"]
    (tmp_path / "q.jsonl").write_text('"A?"\n{"question": "B?"}\n')
    assert read_questions(tmp_path / "q.jsonl") == ["A?", "B?"]
    (tmp_path / "bad.json").write_text('[{"q": "A?"}]')
    with pytest.raises(ConfigError, match="item 1 has no question text"):
        read_questions(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="is not a file"):
        read_questions(tmp_path / "missing.txt")


def test_ask_many_questions_from_a_file_in_one_run(capsys, tmp_path, index_dir, fake_stages):
    qfile = tmp_path / "q.txt"
    qfile.write_text("Who discovered oxygen?\nWhat is the capital of Poland?\nzzz qqq?\n")
    code, out, err = run(capsys, "ask", "--index", index_dir, "--questions", qfile, "--json")
    assert code == 0 and fake_stages["policy"] is None
    answers = json.loads(out)
    assert [a["question"] for a in answers] == ["Who discovered oxygen?", "What is the capital of Poland?", "zzz qqq?"]
    assert answers[0]["answered"] and answers[0]["policy"] == "abstain" and answers[0]["threshold"] == pytest.approx(0.999)
    assert answers[2]["verdict"] == "declined" and answers[2]["threshold"] is None
    assert "time: opening the index" in err and "loading the models" in err and "per question: retrieve" in err
    code, out, err = run(capsys, "ask", "--index", index_dir, "Who discovered oxygen?")
    assert code == 0 and "support 1.00 (threshold 1.00)" in out and "time:" in err and fake_stages["judge"] is None
    code, out, err = run(capsys, "ask", "--index", index_dir, "--judge", "qwen2.5-coder-0.5b", "Who discovered oxygen?")
    assert code == 0 and fake_stages["judge"] == "qwen2.5-coder-0.5b"  # --judge reaches the guard
    code, out, err = run(capsys, "ask", "--index", index_dir, "--generator", "openai:http://127.0.0.1:9/v1", "--server-model", "lora", "Who discovered oxygen?")
    assert code == 0 and fake_stages["generator"] == "openai:http://127.0.0.1:9/v1" and fake_stages["server_model"] == "lora"  # reach the generator


def test_ask_argument_errors_exit_2(capsys, tmp_path, index_dir, fake_stages):
    code, _, err = run(capsys, "ask", "--index", index_dir)
    assert code == 2 and "--questions FILE" in err
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\ntext")
    (docs / "b.rst").write_text("B\n=\n\ntext")
    code, _, err = run(capsys, "ask", "--index", docs, "What?")
    assert code == 2 and "not a groundqa index" in err and "holds 2 document file(s)" in err
    assert f"groundqa index build {docs} --out {tmp_path / 'docs-index'}" in err  # next to it, not inside


def test_time_report_points_to_serve_when_loading_dominates():
    from groundqa.cli.ask import time_report

    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks())
    a = Pipeline(idx, ExtractiveGenerator(), KeywordGuard()).ask("Who discovered oxygen?")
    slow_load = time_report(0.2, 30.0, 1.5, [a], "my-index")
    assert "groundqa serve --index my-index" in slow_load and "--questions FILE" in slow_load
    assert "serve" not in time_report(0.2, 1.0, 30.0, [a] * 40, "my-index")


def test_short_answer_claim_is_shown_as_the_answers_words():
    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks())

    class Short(ExtractiveGenerator):
        def _answer(self, question, passages):
            return "`Joseph Priestley` [1]"

    a = Pipeline(idx, Short(), KeywordGuard(), policy="flag").ask("Who discovered oxygen?")
    assert a.generated == "Joseph Priestley [1]"  # Markdown removed before the guard
    c = a.claims[0]
    assert c.text.startswith("Who discovered oxygen?")  # what the verifier reads
    assert claim_shown(c, a.generated) == "Joseph Priestley"  # what a person is shown
    shown = render_answer(a)
    assert "Joseph Priestley" in shown and "] Who discovered oxygen? Joseph" not in shown


def test_build_with_every_input_skipped_says_what_to_do(capsys, tmp_path):
    docs = tmp_path / "site"
    docs.mkdir()
    for name in ("a.png", "b.png", "c.adoc"):
        (docs / name).write_bytes(b"not text we read")
    code, _, err = run(capsys, "index", "build", docs, "--out", tmp_path / "i", "--embedder", "hash")
    assert code == 1 and "nothing to index" in err
    assert "3 have an extension groundqa does not read (.png x2, .adoc x1)" in err and ".rst" in err and ".md" in err


def test_generator_help_lists_every_profile():
    """The --generator help of demo, ask and bench qa names the profiles from PROFILES, so a new
    profile cannot be left out of one of them (issue 21: `accurate` had to be added by hand)."""
    from groundqa.cli import build_parser
    from groundqa.generate.profiles import PROFILES

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bench = next(a for a in sub.choices["bench"]._actions if isinstance(a, argparse._SubParsersAction))
    for p in (sub.choices["demo"], sub.choices["ask"], bench.choices["qa"]):
        helps = [a.help for a in p._actions if "--generator" in a.option_strings]
        assert len(helps) == 1 and f"({', '.join(PROFILES)})" in helps[0], (p.prog, helps)
