"""Loaders: every format, folders and globs, ids, metadata, and each reason a file is skipped."""

from __future__ import annotations

import json
import os

import pytest

from groundqa.documents import (
    IngestResult,
    Skipped,
    documents_from_records,
    html_to_text,
    load_documents,
    sample_corpus_dir,
    sample_questions,
)
from groundqa.errors import ConfigError


def write(path, content, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "wb":
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def reasons(result: IngestResult) -> dict[str, str]:
    return {os.path.basename(s.source): s.reason for s in result.skipped}


# -- plain formats --------------------------------------------------------------------------------


def test_txt_and_md_single_files(tmp_path):
    t = write(tmp_path / "notes.txt", "First line.\r\nSecond line.\n")
    m = write(tmp_path / "guide.md", "intro\n\n# The Guide #\n\nBody text.\n")
    r = load_documents([t, m])
    assert [d.id for d in r.documents] == ["notes.txt", "guide.md"]
    txt, md = r.documents
    assert txt.text == "First line.\nSecond line.\n"  # CRLF normalised, text otherwise as is
    assert txt.metadata == {"source": t.as_posix(), "type": "txt"}
    assert txt.source == t.as_posix()
    assert md.metadata["type"] == "md" and md.metadata["title"] == "The Guide"
    assert r.skipped == []


def test_html_visible_text_only(tmp_path):
    html = """<!doctype html><html><head><title>My  Page</title>
    <style>p { color: red }</style><script>var hidden = "no";</script></head>
    <body><h1>Heading</h1><p>First   paragraph
    spans lines &amp; has entities.</p>
    <template><p>template text</p></template><noscript>enable js</noscript>
    <ul><li>one</li><li>two</li></ul>line<br>break<div>last <b>bold</b> word</div>
    <script>console.log("x")</script></body></html>"""
    r = load_documents(write(tmp_path / "page.html", html))
    (doc,) = r.documents
    assert doc.text == (
        "Heading\n\nFirst paragraph spans lines & has entities.\n\none\n\ntwo\n\nline\nbreak\n\nlast bold word"
    )
    for hidden in ("color", "hidden", "template text", "enable js", "console", "My Page"):
        assert hidden not in doc.text
    assert doc.metadata["title"] == "My Page" and doc.metadata["type"] == "html"


def test_html_without_head_and_unclosed_tags():
    text, title = html_to_text("<p>alpha<p>beta<script>x = 1<p>gamma")
    assert text == "alpha\n\nbeta" and title == ""
    text, _ = html_to_text("<div>a<style>b</style>c</div><br/>d<hr/>e")
    assert text == "ac\n\nd\n\ne"  # the block end wins over the <br> after it


# -- records --------------------------------------------------------------------------------------


def test_jsonl_fields_ids_and_bad_records(tmp_path):
    lines = [
        {"doc": "d1", "body": "Alpha text.", "year": 2020, "tags": ["x"], "lang": "en"},
        {"body": "No id here."},
        {"doc": "d3", "title": "missing body"},
        "not json at all",
        {"doc": "d4", "body": "   "},
        {"doc": "d1", "body": "Duplicate id."},
        [1, 2],
        {"doc": 7, "body": "Numeric id."},
    ]
    raw = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    f = write(tmp_path / "data" / "corpus.jsonl", raw)
    r = load_documents(tmp_path / "data", text_field="body", id_field="doc")
    assert [d.id for d in r.documents] == ["d1", "corpus.jsonl#2", "7"]
    d1 = r.documents[0]
    assert d1.text == "Alpha text."
    # default metadata: every other scalar field, plus source and type
    assert d1.metadata == {"source": f.as_posix(), "type": "jsonl", "year": 2020, "lang": "en"}
    why = {s.source.rsplit("/", 1)[-1]: s.reason for s in r.skipped}
    assert "no 'body' field (fields: doc, title)" in why["corpus.jsonl#3"]
    assert why["corpus.jsonl#4"].startswith("invalid JSON")
    assert why["corpus.jsonl#5"].startswith("empty")
    assert why["corpus.jsonl#6"].startswith("duplicate document id 'd1'")
    assert "not an object" in why["corpus.jsonl#7"]
    # chosen metadata fields only
    r2 = load_documents(f, text_field="body", id_field="doc", metadata_fields=["tags", "absent"])
    assert r2.documents[0].metadata == {"source": f.as_posix(), "type": "jsonl", "tags": ["x"]}


def test_csv_and_tsv(tmp_path):
    f = write(
        tmp_path / "faq.csv",
        'id,text,year,code,score\nq1,"How do I reset, my password?",2019,007,3.5\n,Row without id.,,x,\nq3,,2020,,\n',
    )
    r = load_documents(f, metadata_fields=None)
    assert [d.id for d in r.documents] == ["q1", "faq.csv#2"]
    q1 = r.documents[0]
    assert q1.text == "How do I reset, my password?"
    # plainly written numbers become numbers; a leading-zero code stays a string
    assert q1.metadata == {"source": f.as_posix(), "type": "csv", "year": 2019, "code": "007", "score": 3.5}
    assert r.documents[1].metadata == {"source": f.as_posix(), "type": "csv", "code": "x"}
    assert [(s.source, s.reason.split(":")[0]) for s in r.skipped] == [(f"{f.as_posix()}#3", "empty")]

    t = write(tmp_path / "rows.tsv", "key\tbody\nk1\tTab separated text.\n")
    r = load_documents(t, text_field="body", id_field="key")
    assert [(d.id, d.text, d.metadata["type"]) for d in r.documents] == [("k1", "Tab separated text.", "csv")]


def test_csv_without_text_column_and_ragged_rows(tmp_path):
    f = write(tmp_path / "a.csv", "id,content\n1,hello\n")
    r = load_documents(f)
    assert r.documents == []
    assert "no 'text' column (columns: id, content)" in r.skipped[0].reason
    g = write(tmp_path / "b.csv", "id,text\n1,fine\n2,too,many\n")
    r = load_documents(g)
    assert [d.id for d in r.documents] == ["1"]
    assert r.skipped[0].source.endswith("b.csv#2") and "3 cells" in r.skipped[0].reason


def test_documents_from_records():
    recs = [{"id": "a", "text": "One.", "k": 1, "nested": {"x": 1}}, {"text": "Two."}, {"id": "c"}]
    r = documents_from_records(recs, source="mem")
    assert [d.id for d in r.documents] == ["a", "mem#2"]
    assert r.documents[0].metadata == {"source": "mem", "type": "record", "k": 1}
    assert r.skipped == [Skipped("mem#3", r.skipped[0].reason)] and "no 'text' field" in r.skipped[0].reason
    r = documents_from_records([{"body": "x", "id": "z"}], text_field="body", id_field=None)
    assert r.documents[0].id == "records#1"


# -- folders, globs, patterns ---------------------------------------------------------------------


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "docs"
    write(root / "a.md", "# A\n\nAlpha.")
    write(root / "guides" / "b.md", "Bravo.")
    write(root / "guides" / "deep" / "c.txt", "Charlie.")
    write(root / "guides" / "deep" / "d.md", "Delta.")
    write(root / ".hidden" / "e.md", "Echo.")
    write(root / ".secret.md", "Hidden file.")
    return root


def test_directory_is_recursive_sorted_and_skips_hidden(tree):
    r = load_documents(tree)
    assert [d.id for d in r.documents] == ["a.md", "guides/b.md", "guides/deep/c.txt", "guides/deep/d.md"]
    assert r.skipped == []


def test_pattern_filter(tree):
    assert [d.id for d in load_documents(tree, pattern="*.md").documents] == ["a.md", "guides/b.md", "guides/deep/d.md"]
    assert [d.id for d in load_documents(tree, pattern="guides/**/*.md").documents] == ["guides/b.md", "guides/deep/d.md"]
    assert [d.id for d in load_documents(tree, pattern="guides/*.md").documents] == ["guides/b.md"]
    assert [d.id for d in load_documents(tree, pattern="[ab].md").documents] == ["a.md", "guides/b.md"]


def test_glob_paths(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    r = load_documents("docs/**/*.md")
    assert [d.id for d in r.documents] == ["a.md", "guides/b.md", "guides/deep/d.md"]
    assert r.documents[1].source == "docs/guides/b.md"
    r = load_documents(["docs/guides/*.md", "docs/guides/b.md"])  # named twice: loaded once
    assert [d.id for d in r.documents] == ["b.md"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_documents(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="matches no files"):
        load_documents(str(tmp_path / "*.nothing"))
    with pytest.raises(ConfigError, match="paths is empty"):
        load_documents([])
    with pytest.raises(ConfigError, match="max_bytes=0"):
        load_documents(tmp_path, max_bytes=0)
    with pytest.raises(ConfigError, match="metadata_fields='a,b'"):
        load_documents(tmp_path, metadata_fields="a,b")
    with pytest.raises(ConfigError, match="text_field=''"):
        documents_from_records([], text_field="")


# -- bad files, one reason each -------------------------------------------------------------------


def test_bad_files_are_reported_one_by_one(tmp_path):
    d = tmp_path / "in"
    write(d / "good.txt", "A good sentence.")
    write(d / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", mode="wb")
    write(d / "latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), mode="wb")
    write(d / "empty.md", "")
    write(d / "blank.txt", "   \n\t\n")
    write(d / "big.txt", "word " * 100)
    write(d / "picture.pdf", "%PDF-1.4")
    write(d / "noext", "text")
    write(d / "scripts.html", "<script>only()</script><style>a{}</style>")
    write(d / "nothing.jsonl", "\n\n")
    write(d / "good.md", "Fine too.")
    r = load_documents(d, max_bytes=200)
    assert sorted(doc.id for doc in r.documents) == ["good.md", "good.txt"]
    why = reasons(r)
    assert set(why) == {"big.txt", "binary.txt", "blank.txt", "empty.md", "latin1.txt", "noext", "nothing.jsonl", "picture.pdf", "scripts.html"}
    assert why["binary.txt"].startswith("binary file")
    assert why["latin1.txt"].startswith("undecodable: not valid UTF-8") and "at byte 3" in why["latin1.txt"]
    assert why["empty.md"] == "empty file"
    assert why["blank.txt"] == "empty file"
    assert why["big.txt"].startswith("too large: 500 bytes > max_bytes=200")
    assert why["picture.pdf"].startswith("unknown extension '.pdf'; supported:")
    assert why["noext"].startswith("unknown extension '(none)'")
    assert why["scripts.html"] == "empty: the page has no visible text"
    assert why["nothing.jsonl"] == "empty file"


def test_record_too_large_and_utf16_and_bom(tmp_path):
    f = write(tmp_path / "r.jsonl", json.dumps({"id": "x", "text": "y" * 50}) + "\n" + json.dumps({"id": "ok", "text": "small"}))
    r = load_documents(f, max_bytes=20)  # the file is bigger than 20 bytes: records are what count
    assert [d.id for d in r.documents] == ["ok"]
    assert r.skipped[0].source.endswith("r.jsonl#1") and r.skipped[0].reason.startswith("too large: 50 bytes")
    u = write(tmp_path / "u16.txt", "Hello wide world.".encode("utf-16"), mode="wb")
    b = write(tmp_path / "bom.txt", b"\xef\xbb\xbfWith BOM.", mode="wb")
    r = load_documents([u, b])
    assert [d.text for d in r.documents] == ["Hello wide world.", "With BOM."]


def test_duplicate_ids_across_folders(tmp_path):
    write(tmp_path / "x" / "same.txt", "One.")
    write(tmp_path / "y" / "same.txt", "Two.")
    r = load_documents([tmp_path / "x", tmp_path / "y"])
    assert [d.text for d in r.documents] == ["One."]
    assert "duplicate document id 'same.txt'" in r.skipped[0].reason


# -- the shipped sample corpus --------------------------------------------------------------------


def test_sample_corpus_loads_cleanly_and_answers_its_questions():
    folder = sample_corpus_dir()
    r = load_documents(folder)
    assert 8 <= len(r.documents) <= 12 and r.skipped == []
    total = sum(p.stat().st_size for p in folder.parent.rglob("*") if p.is_file())
    assert total < 100_000
    assert (folder.parent / "ATTRIBUTION.md").read_text().count("CC BY-SA 4.0") >= 1
    by_id = {d.id: d for d in r.documents}
    qs = sample_questions()
    answerable = [q for q in qs if q.answerable]
    assert 6 <= len(answerable) <= 8 and 1 <= len(qs) - len(answerable) <= 2
    for q in answerable:
        assert any(a in by_id[q.doc_id].text for a in q.answers), q
    for q in qs:
        if not q.answerable:
            assert q.answers == () and q.doc_id is None


def test_sample_corpus_uses_only_training_articles():
    """The held-out benchmark articles (last 12 SQuAD dev titles in sorted order) never appear."""
    held_out = [
        "Scottish Parliament", "Sky (United Kingdom)", "Southern California", "Steam engine",
        "Super Bowl 50", "Teacher", "United Methodist Church", "University of Chicago",
        "Victoria (Australia)", "Victoria and Albert Museum", "Warsaw", "Yuan dynasty",
    ]  # fmt: skip
    titles = {d.metadata["title"] for d in load_documents(sample_corpus_dir()).documents}
    assert titles.isdisjoint(held_out) and len(titles) >= 8


# -- ids never replace a text in silence (issue 16) -------------------------------------------------


def test_exact_duplicates_are_kept_once_and_different_texts_reported(tmp_path):
    rows = [
        {"id": "a", "text": "Alpha."},
        {"id": "a", "text": "Alpha."},  # exact repeat: nothing lost
        {"id": "a", "text": "Another text under a."},  # a different text: reported, not ingested
        {"text": "No id."},
        {"id": "rows.jsonl#4", "text": "Claims the id of the row above."},
    ]
    write(tmp_path / "rows.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    r = load_documents(tmp_path / "rows.jsonl")
    assert [d.id for d in r.documents] == ["a", "rows.jsonl#4"]
    assert [s.source.rsplit("/", 1)[-1] for s in r.duplicates] == ["rows.jsonl#2"]
    assert "with the same text: kept once" in r.duplicates[0].reason
    assert [s.source.rsplit("/", 1)[-1] for s in r.id_conflicts] == ["rows.jsonl#3", "rows.jsonl#5"]
    assert "duplicate document id 'a' (first seen in" in r.id_conflicts[0].reason
    assert "with a different text: not ingested" in r.id_conflicts[0].reason
    assert "fix the repeated 'id' values, or choose another id field" in r.id_conflicts[0].reason
    assert r.id_conflicts[0].to_dict() == {"source": r.id_conflicts[0].source, "reason": r.id_conflicts[0].reason}


def test_two_csv_files_numbering_their_rows_alike_conflict_loudly(tmp_path):
    """A common shape: each file's 'id' column counts 1, 2, 3; the second file's rows are all reported."""
    write(tmp_path / "a.csv", "id,text\n1,First of a.\n2,Second of a.\n")
    write(tmp_path / "b.csv", "id,text\n1,First of b.\n2,Second of b.\n")
    r = load_documents(tmp_path)
    assert [d.text for d in r.documents] == ["First of a.", "Second of a."]
    assert len(r.id_conflicts) == 2 and not r.duplicates
    # the fix the message names: an id field the rows do not have numbers them per file
    r2 = load_documents(tmp_path, id_field="row_id")
    assert sorted(d.id for d in r2.documents) == ["a.csv#1", "a.csv#2", "b.csv#1", "b.csv#2"] and not r2.skipped


def test_same_relative_path_in_two_folders(tmp_path):
    write(tmp_path / "x" / "same.txt", "Same text.")
    write(tmp_path / "y" / "same.txt", "Same text.")
    write(tmp_path / "z" / "same.txt", "Other text.")
    r = load_documents([tmp_path / "x", tmp_path / "y", tmp_path / "z"])
    assert len(r.documents) == 1 and len(r.duplicates) == 1 and len(r.id_conflicts) == 1
    assert "another input has a file at the same relative path" in r.id_conflicts[0].reason
