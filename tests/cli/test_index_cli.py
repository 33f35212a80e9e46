"""``groundqa index build|add|delete|info`` and ``groundqa search``: behaviour, output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groundqa.cli import build_parser, main
from groundqa.cli.index import parse_filters
from groundqa.documents import sample_corpus_dir, sample_questions
from groundqa.errors import ConfigError


def run(capsys, *argv):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    try:
        code = main(list(map(str, argv)))
    except SystemExit as exc:  # argparse errors and ConfigError exit through parser.exit
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "docs"
    write(root / "solar.md", "# Solar\n\nSolar panels turn sunlight into electricity. They work best facing south.")
    write(root / "wind.txt", "Wind turbines turn moving air into electricity. Offshore farms are large.")
    write(root / "faq.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "faq-1", "text": "Batteries store energy for the night.", "year": 2021, "lang": "en"},
        {"id": "faq-2", "text": "Die Sonne scheint auf die Dächer.", "year": 2019, "lang": "de"},
    ]))  # fmt: skip
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    return root


# -- the parser ------------------------------------------------------------------------------------


def test_parser_shapes_and_defaults():
    p = build_parser()
    a = p.parse_args(["index", "build", "a", "b/*.md", "--out", "idx", "--sparse", "rank-bm25", "--dense", "flat", "--metadata-fields", "title,year"])
    assert (a.paths, a.out, a.embedder, a.sparse, a.dense, a.metadata_fields, a.overlap) == (["a", "b/*.md"], "idx", "minilm-l6", "rank-bm25", "flat", ["title", "year"], 1)
    a = p.parse_args(["search", "--index", "idx", "what", "is", "x", "--filter", "type=md", "--filter", "year>=2020", "--mode", "bm25"])
    assert (a.query, a.filters, a.mode, a.top_k, a.json) == (["what", "is", "x"], ["type=md", "year>=2020"], "bm25", 10, False)
    a = p.parse_args(["index", "delete", "idx", "d1", "d2", "--missing-ok"])
    assert (a.index, a.doc_ids, a.missing_ok) == ("idx", ["d1", "d2"], True)
    a = p.parse_args(["index", "add", "idx", "more/", "--text-field", "body", "--id-field", "key"])
    assert (a.index, a.paths, a.text_field, a.id_field) == ("idx", ["more/"], "body", "key")
    assert p.parse_args(["index", "info", "idx", "--json"]).json is True


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "build", "docs"],  # no --out
        ["index", "build", "--out", "x"],  # no path
        ["index", "build", "docs", "--out", "x", "--dense", "ivf"],
        ["index", "build", "docs", "--out", "x", "--sparse", "tfidf"],
        ["index", "build", "docs", "--out", "x", "--max-tokens", "0"],
        ["index", "build", "docs", "--out", "x", "--metadata-fields", "a,,b"],
        ["search", "--index", "x", "q", "--top-k", "-3"],
        ["search", "--index", "x", "q", "--mode", "fuzzy"],
        ["search", "q"],  # no --index
    ],
)
def test_bad_arguments_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and "error:" in err


def test_parse_filters():
    assert parse_filters([]) is None
    assert parse_filters(["type=md"]) == {"type": "md"}
    assert parse_filters(["lang=en", "lang=de"]) == {"lang": ["en", "de"]}
    assert parse_filters(["year=2021"]) == {"year": [2021, "2021"]}  # a number or the same digits as text
    assert parse_filters(["year>=2020", "year<2024", "lang!=de"]) == {"year": {"$gte": 2020, "$lt": 2024}, "lang": {"$ne": "de"}}
    assert parse_filters(['{"year": {"$gt": 1}}', "type=md"]) == {"year": {"$gt": 1}, "type": "md"}
    assert parse_filters(["title=a=b"]) == {"title": "a=b"}
    for bad, match in [("year>soon", "needs a number"), ("novalue=", "not valid"), ("=x", "not valid"), ("{bad", "not valid JSON"), ("[1]", "not valid")]:
        with pytest.raises(ConfigError, match=match):
            parse_filters([bad])


# -- end to end with the hash embedder (fast) ------------------------------------------------------


def test_build_search_add_delete_info_hash(capsys, tmp_path, corpus):
    idx = tmp_path / "idx"
    code, out, err = run(capsys, "index", "build", corpus, "--out", idx, "--embedder", "hash", "--json", "--max-tokens", "12", "--overlap", "0")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["documents"], summary["total_documents"]) == (4, 4)
    assert summary["skipped"] == [{"source": (corpus / "logo.png").as_posix(), "reason": summary["skipped"][0]["reason"]}]
    assert "unknown extension '.png'" in summary["skipped"][0]["reason"]
    assert "skipped " in err and "logo.png" in err  # listed on stderr as well
    assert (idx / "manifest.json").exists()
    assert json.loads((idx / "manifest.json").read_text())["extra"]["chunking"] == {"max_tokens": 12, "overlap_sentences": 0}
    assert summary["chunks"] == 6  # solar.md and wind.txt are two chunks each at 12 tokens

    # search: JSON shape, modes, filters
    code, out, _ = run(capsys, "search", "--index", idx, "solar panels sunlight", "--json", "--top-k", "2", "--mode", "bm25")
    res = json.loads(out)
    assert code == 0 and res["results"][0]["doc_id"] == "solar.md" and res["results"][0]["rank"] == 1
    assert set(res["results"][0]) >= {"rank", "score", "scores", "id", "doc_id", "text", "start", "end", "source", "metadata"}
    code, out, _ = run(capsys, "search", "--index", idx, "energy", "--json", "--filter", "lang=de")
    assert [r["doc_id"] for r in json.loads(out)["results"]] == ["faq-2"]
    code, out, _ = run(capsys, "search", "--index", idx, "energy", "--json", "--filter", "year>=2020")
    assert [r["doc_id"] for r in json.loads(out)["results"]] == ["faq-1"]
    code, out, _ = run(capsys, "search", "--index", idx, "energy", "--filter", "type=html")
    assert code == 0 and out.strip() == "no results (the filters match no chunk)"

    # add: one new document, one changed, one unchanged
    write(corpus / "wind.txt", "Wind turbines turn moving air into electricity. Small turbines power farms.")
    write(corpus / "hydro.txt", "Hydro dams turn falling water into electricity.")
    code, out, err = run(capsys, "index", "add", idx, corpus / "wind.txt", corpus / "hydro.txt", corpus / "solar.md", "--json")
    added = json.loads(out)
    assert code == 0, err
    assert (added["new_documents"], added["updated_documents"], added["unchanged_documents"]) == (1, 1, 1)
    assert added["total_documents"] == 5
    code, out, _ = run(capsys, "search", "--index", idx, "small turbines power farms", "--json", "--mode", "bm25", "--top-k", "10")
    texts = sorted(r["text"] for r in json.loads(out)["results"] if r["doc_id"] == "wind.txt")
    assert texts == ["Small turbines power farms.", "Wind turbines turn moving air into electricity."]  # old text gone

    # add again: nothing changes, nothing is rewritten
    before = (idx / "manifest.json").stat().st_mtime_ns
    code, out, _ = run(capsys, "index", "add", idx, corpus / "hydro.txt", "--json")
    assert json.loads(out)["chunks_added"] == 0 and (idx / "manifest.json").stat().st_mtime_ns == before

    # delete: a known and an unknown id -> exit 1 unless --missing-ok
    code, out, err = run(capsys, "index", "delete", idx, "faq-2", "nope", "--json")
    gone = json.loads(out)
    assert code == 1 and gone["deleted_documents"] == ["faq-2"] and gone["not_found"] == ["nope"] and "not in the index: nope" in err
    code, out, _ = run(capsys, "index", "delete", idx, "nope", "--missing-ok")
    assert code == 0 and "deleted documents" in out

    # info
    code, out, _ = run(capsys, "index", "info", idx, "--json")
    info = json.loads(out)
    assert code == 0 and info["documents"] == 4 and info["embedder"]["name"].startswith("hash")
    code, out, _ = run(capsys, "index", "info", idx)
    assert "documents" in out and "embedder.name" in out and "chunking.overlap_sentences" in out
    # add used the build's chunking settings (12 tokens, no overlap): one chunk per sentence of wind.txt
    assert info["chunking"] == {"max_tokens": 12, "overlap_sentences": 0}

    # build again into the same folder: refused (2) unless --overwrite
    code, _, err = run(capsys, "index", "build", corpus, "--out", idx, "--embedder", "hash")
    assert code == 2 and "already holds an index" in err and "--overwrite" in err
    code, out, _ = run(capsys, "index", "build", corpus / "solar.md", "--out", idx, "--embedder", "hash", "--overwrite", "--json")
    assert code == 0 and json.loads(out)["total_documents"] == 1


def test_runtime_and_input_errors(capsys, tmp_path, corpus):
    code, _, err = run(capsys, "index", "build", tmp_path / "missing", "--out", tmp_path / "i", "--embedder", "hash")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "index", "build", corpus / "logo.png", "--out", tmp_path / "i", "--embedder", "hash")
    assert code == 1 and "nothing to index" in err and "unknown extension" in err
    write(tmp_path / "notindex" / "x.txt", "hello")
    code, _, err = run(capsys, "index", "build", corpus, "--out", tmp_path / "notindex", "--embedder", "hash")
    assert code == 2 and "not an empty folder or an index" in err
    code, _, err = run(capsys, "search", "--index", tmp_path / "notindex", "hello")
    assert code == 2 and "not a groundqa index" in err and "groundqa index build" in err
    code, _, err = run(capsys, "search", "--index", tmp_path / "nowhere", "hello")
    assert code == 2 and "is not a directory" in err
    code, _, err = run(capsys, "index", "build", corpus, "--out", tmp_path / "i", "--embedder", "hash", "--pattern", "*.md", "--max-tokens", "1")
    assert code == 2 and "max_tokens=1" in err


def test_subprocess_python_m_groundqa(tmp_path, corpus):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONIOENCODING": "utf-8"}
    idx = tmp_path / "idx"
    build = subprocess.run([sys.executable, "-m", "groundqa", "index", "build", str(corpus), "--out", str(idx), "--embedder", "hash"], capture_output=True, text=True, env=env, timeout=120)
    assert build.returncode == 0, build.stderr
    assert "total documents" in build.stdout and "logo.png" in build.stderr
    search = subprocess.run([sys.executable, "-m", "groundqa", "search", "--index", str(idx), "wind", "turbines", "--top-k", "1", "--width", "100"], capture_output=True, text=True, env=env, timeout=120)
    assert search.returncode == 0, search.stderr
    header, rule, row = search.stdout.splitlines()
    assert header.split() == ["rank", "score", "bm25", "dense", "doc", "text"] and "wind.txt" in row
    bad = subprocess.run([sys.executable, "-m", "groundqa", "search", "--index", str(idx), "x", "--mode", "nope"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


# -- end to end with the real embedder, on the shipped sample corpus ----------------------------


@pytest.fixture()
def share_real_embedder(monkeypatch, real_embedder):
    """Commands that ask for minilm-l6 get the session's loaded model instead of loading it again."""
    import groundqa.index.hybrid as hybrid
    from groundqa.index.embed import make_embedder

    def shared(ref="minilm-l6", **kw):
        return real_embedder if ref == "minilm-l6" else make_embedder(ref, **kw)

    monkeypatch.setattr(hybrid, "make_embedder", shared)
    return real_embedder


def test_real_embedder_sample_corpus_end_to_end(capsys, tmp_path, share_real_embedder):
    idx = tmp_path / "sample-index"
    code, out, err = run(capsys, "index", "build", sample_corpus_dir(), "--out", idx, "--json")
    assert code == 0, err
    built = json.loads(out)
    assert built["documents"] == len(list(sample_corpus_dir().glob("*.md"))) and built["skipped"] == []
    assert json.loads((idx / "manifest.json").read_text())["embedder"]["name"] == "minilm-l6"
    chunks = [json.loads(line) for line in (idx / "chunks.jsonl").read_text().splitlines()]
    assert max(share_real_embedder.count_tokens([c["text"] for c in chunks])) <= share_real_embedder.max_tokens == 256

    # every answerable sample question finds a passage holding a gold answer in the top 3 (hybrid)
    for q in [q for q in sample_questions() if q.answerable]:
        code, out, _ = run(capsys, "search", "--index", idx, q.question, "--top-k", "3", "--json")
        texts = [r["text"] for r in json.loads(out)["results"]]
        assert any(a in t for t in texts for a in q.answers), (q.question, texts)
    # dense mode uses the embedder too; the human table names the document
    code, out, _ = run(capsys, "search", "--index", idx, "Who introduced plague to Europe?", "--mode", "dense", "--top-k", "1", "--width", "120")
    assert code == 0 and "black_death.md" in out

    # add, delete, info
    extra = write(tmp_path / "new" / "zebra.md", "# Zebra\n\nZebras are African equines with black and white stripes.")
    code, out, _ = run(capsys, "index", "add", idx, extra.parent, "--json")
    assert code == 0 and json.loads(out)["new_documents"] == 1
    code, out, _ = run(capsys, "search", "--index", idx, "striped african horse", "--top-k", "1", "--json")
    assert json.loads(out)["results"][0]["doc_id"] == "zebra.md"
    code, out, _ = run(capsys, "index", "delete", idx, "zebra.md", "--json")
    assert code == 0 and json.loads(out)["deleted_chunks"] == 1
    code, out, _ = run(capsys, "index", "info", idx, "--json")
    info = json.loads(out)
    assert info["documents"] == built["documents"] and info["chunks"] == built["chunks"]


def test_progress_bars_on_a_terminal_only(capsys, monkeypatch, tmp_path, corpus):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "index", "build", corpus, "--out", tmp_path / "a", "--embedder", "hash", "--json")
    assert code == 0 and "chunking" in err and json.loads(out)["documents"] == 4  # stdout stays clean JSON
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, "index", "build", corpus, "--out", tmp_path / "b", "--embedder", "hash", "--no-progress")
    assert code == 0 and "chunking" not in err


def test_build_warns_with_counts_when_ids_collide(capsys, tmp_path):
    """Issue 16: texts left out because their id is taken are counted on stderr, not only listed."""
    rows = [{"id": "p", "text": f"Paper {i} text about topic {i}."} for i in range(4)] + [{"id": "q", "text": "Q."}, {"id": "q", "text": "Q."}]
    write(tmp_path / "in" / "papers.jsonl", "\n".join(json.dumps(r) for r in rows))
    code, out, err = run(capsys, "index", "build", tmp_path / "in", "--out", tmp_path / "idx", "--embedder", "hash", "--json")
    assert code == 0
    assert "warning: 3 document(s) NOT indexed: their id is already used by a different text" in err
    assert "note: 1 exact duplicate(s) (same id, same text) kept once" in err
    summary = json.loads(out)
    assert summary["documents"] == 2 and len(summary["skipped"]) == 4


def test_build_fit_fusion_keeps_the_fit_in_the_manifest(tmp_path, capsys):
    root = tmp_path / "notes"
    for i in range(30):  # two sentences per file, each pair sharing words of its own
        write(root / f"n{i:02d}.txt", f"Gadget{i} widget{i} improves solar storage for homes. Gadget{i} widget{i} was tested in winter and summer.")
    idx = tmp_path / "idx"
    code, _, err = run(capsys, "index", "build", root, "--out", idx, "--embedder", "hash", "--fit-fusion", "--overlap", "0")
    assert code == 0 and "fusion fit: 30 pseudo-queries" in err
    fusion = json.loads((idx / "manifest.json").read_text())["fusion"]
    assert fusion["norm"] == "zscore" and fusion["fit"]["queries"] == 30
    assert fusion["weights"] == fusion["fit"]["weights"]["zscore"]
    code, _, err = run(capsys, "index", "build", root, "--backend", "milvus", "--uri", tmp_path / "m.db", "--embedder", "hash", "--fit-fusion")
    assert code != 0 and "--fit-fusion" in err


def test_cli_ids_are_checked_escaped_and_found_in_any_unicode_form(capsys, tmp_path):
    """Issue 25: `index build` skips records whose id no URL or terminal can carry (with the reason),
    stores ids in NFC, `index add` replaces a document an older index holds under the NFD form of
    the id (not a look-alike twin), `index delete` finds an id typed in NFD, and `search` escapes
    ids and text in its table."""
    import unicodedata

    from groundqa.documents import Chunker
    from groundqa.index import HybridIndex
    from groundqa.types import Document

    nfc, nfd = "café.md", unicodedata.normalize("NFD", "café.md")
    src = write(tmp_path / "in" / "c.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "ok", "text": "Plain record about \x1b[31mturbines\x1b[0m."}, {"id": "bad\nid", "text": "Newline id."},
    ]) + "\n")
    idx = tmp_path / "idx"
    code, out, err = run(capsys, "index", "build", src, "--out", idx, "--embedder", "hash", "--json")
    assert code == 0 and json.loads(out)["documents"] == 1 and "U+000A (line feed)" in err
    # an index of an older version holding the NFD form of an id
    index = HybridIndex.load(idx)
    index.add([c for g in Chunker(index.embedder).chunk_many([Document(nfd, "Old menu text.")]) for c in g])
    index.save(idx)
    write(tmp_path / "in2" / "m.jsonl", json.dumps({"id": nfd, "text": "New menu text."}) + "\n")
    code, out, err = run(capsys, "index", "add", idx, tmp_path / "in2" / "m.jsonl", "--json")
    added = json.loads(out)
    assert code == 0 and added["updated_documents"] == 1 and added["new_documents"] == 0 and added["total_documents"] == 2
    assert sorted(HybridIndex.load(idx).doc_ids()) == sorted([nfc, "ok"])
    code, out, _ = run(capsys, "search", "--index", idx, "plain record", "--mode", "bm25")
    assert code == 0 and "\x1b" not in out and "\\x1b[31mturbines" in out
    code, out, err = run(capsys, "index", "delete", idx, nfd, "--json")
    assert code == 0 and json.loads(out)["deleted_documents"] == [nfc]
