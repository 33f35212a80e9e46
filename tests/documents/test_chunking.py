"""Chunking: exact offsets, content-hash ids, token limits (real tokenizer), overlap, splitting."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundqa.documents import Chunker, chunk_documents, chunk_id, load_documents, sample_corpus_dir
from groundqa.errors import ConfigError
from groundqa.text import sentence_spans
from groundqa.types import Document


def words(texts):
    """A token counter: one token per word, plus two 'special tokens' like BERT's [CLS]/[SEP]."""
    return [len(t.split()) + 2 for t in texts]


def check_chunks(doc, chunks, limit, count):
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.doc_id == doc.id and c.source == doc.source and dict(c.metadata) == dict(doc.metadata)
        assert c.id == chunk_id(doc.id, c.text)
        assert c.text == c.text.strip() and c.text
    if chunks:
        assert max(count([c.text for c in chunks])) <= limit
    # every non-space character of the document is in some chunk
    covered = [False] * len(doc.text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    assert all(covered[i] for i, ch in enumerate(doc.text) if not ch.isspace())


@pytest.fixture(scope="module")
def sample_docs():
    return load_documents(sample_corpus_dir()).documents


def test_offsets_ids_and_metadata(sample_docs, hash_embedder):
    chunker = Chunker(hash_embedder, max_tokens=60)
    for doc in sample_docs:
        chunks = chunker.chunk(doc)
        assert len(chunks) > 1
        check_chunks(doc, chunks, 60, hash_embedder.count_tokens)
        assert all(re.fullmatch(r"[0-9a-f]{32}", c.id) for c in chunks)
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_same_document_twice_gives_the_same_chunks(sample_docs, hash_embedder):
    a = chunk_documents(sample_docs, hash_embedder, max_tokens=80)
    b = chunk_documents(list(sample_docs), Chunker(hash_embedder, max_tokens=80))
    assert a == b
    assert len({c.id for c in a}) == len(a)
    # the id depends on the document id too: the same text in another document is another chunk
    doc = sample_docs[0]
    other = Chunker(hash_embedder, max_tokens=80).chunk(Document(id="copy", text=doc.text))
    assert [c.text for c in other] == [c.text for c in a if c.doc_id == doc.id]
    assert not {c.id for c in other} & {c.id for c in a}


def test_token_limit_respected_with_the_real_tokenizer(sample_docs, real_embedder):
    for limit in (24, 64, None):
        chunker = Chunker(real_embedder, max_tokens=limit)
        assert chunker.overhead == 2  # [CLS] and [SEP]
        for doc in sample_docs:
            chunks = chunker.chunk(doc)
            check_chunks(doc, chunks, chunker.max_tokens, real_embedder.count_tokens)
    assert Chunker(real_embedder).max_tokens == real_embedder.max_tokens == 256


def test_windows_are_full_and_overlap_by_n_sentences():
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(20))
    doc = Document(id="d", text=text)
    spans = sentence_spans(text)
    assert len(spans) == 20
    for overlap in (0, 1, 2):
        chunks = Chunker(words, max_tokens=2 + 7 * 4, overlap_sentences=overlap).chunk(doc)
        sents = [[i for i, (s, e) in enumerate(spans) if c.start <= s and e <= c.end] for c in chunks]
        assert all(len(s) == 4 for s in sents[:-1])  # greedy: each window is full
        for prev, nxt in zip(sents, sents[1:]):
            assert prev[-overlap:] == nxt[:overlap] if overlap else prev[-1] + 1 == nxt[0]
        assert sents[-1][-1] == 19


def test_overlap_gives_way_when_the_next_sentence_would_not_fit():
    a, b, c = "Tiny one.", "Six words in this sentence here.", " ".join(["ten"] * 9) + " words."
    doc = Document(id="d", text=f"{a} {b} {c}")
    # budget 14 word tokens: [a b] = 8 fits, + c = 18 does not; b + c = 16 does not fit either,
    # so the next window drops the overlap instead of repeating b alone
    chunks = Chunker(words, max_tokens=16, overlap_sentences=1).chunk(doc)
    assert [ch.text for ch in chunks] == [f"{a} {b}", c]
    check_chunks(doc, chunks, 16, words)


def test_long_sentence_is_cut_at_word_boundaries(real_embedder):
    sentence = " ".join(f"token{i}" for i in range(400)) + "."
    doc = Document(id="long", text=f"A short start. {sentence} A short end.")
    chunks = Chunker(real_embedder, max_tokens=64, overlap_sentences=1).chunk(doc)
    check_chunks(doc, chunks, 64, real_embedder.count_tokens)
    assert len(chunks) > 5
    for c in chunks:
        assert c.start == 0 or doc.text[c.start - 1] == " "
        assert c.end == len(doc.text) or doc.text[c.end] == " "


def test_a_word_longer_than_the_limit_is_cut_by_characters(real_embedder):
    blob = "x9Q" * 400
    doc = Document(id="blob", text=f"Before. {blob} After.")
    chunks = Chunker(real_embedder, max_tokens=32).chunk(doc)
    check_chunks(doc, chunks, 32, real_embedder.count_tokens)
    assert "".join(c.text for c in chunks if "x9Q" in c.text).replace("Before. ", "").replace(" After.", "").startswith("x9Q")


def test_exact_check_shrinks_windows_the_estimate_got_wrong():
    """A counter where two sentences together cost more than apart: the plan must be re-checked."""

    def superlinear(texts):
        return [len(t.split()) + t.count(".") ** 2 + 2 for t in texts]

    text = " ".join(f"Sentence {i} is here." for i in range(30))
    doc = Document(id="d", text=text)
    chunks = Chunker(superlinear, max_tokens=30, overlap_sentences=1).chunk(doc)
    check_chunks(doc, chunks, 30, superlinear)


def test_tokens_are_counted_in_batches(sample_docs):
    calls = []

    def counting(texts):
        calls.append(len(texts))
        return words(texts)

    chunks = chunk_documents(sample_docs, counting, max_tokens=60)
    assert len(chunks) > len(sample_docs)
    # one call for the special-token overhead, one for all sentences, one for the words of the
    # sentences longer than 60 tokens, one exact check of all windows
    assert calls[:2] == [1, sum(len(sentence_spans(d.text)) for d in sample_docs)]
    assert len(calls) == 4
    calls.clear()
    chunk_documents(sample_docs * 3, counting, max_tokens=60)  # more documents, not more calls
    assert len(calls) == 4


def test_empty_and_tiny_documents(hash_embedder):
    chunker = Chunker(hash_embedder)
    assert chunker.chunk(Document(id="e", text="")) == []
    assert chunker.chunk(Document(id="w", text="  \n\n ")) == []
    (c,) = chunker.chunk(Document(id="t", text="  Just one.  ", source="s", metadata={"k": 1}))
    assert (c.text, c.start, c.end, c.source, dict(c.metadata)) == ("Just one.", 2, 11, "s", {"k": 1})


def test_repeated_text_in_one_document_is_one_chunk():
    doc = Document(id="r", text="Same words here.\n\nSame words here.")
    chunks = Chunker(words, max_tokens=6, overlap_sentences=0).chunk(doc)
    assert [(c.start, c.end) for c in chunks] == [(0, 16)]


def test_bad_settings(real_embedder):
    with pytest.raises(ConfigError, match="max_tokens=512 is more than the embedder's limit of 256"):
        Chunker(real_embedder, max_tokens=512)
    with pytest.raises(ConfigError, match="max_tokens=None needs an embedder"):
        Chunker(words)
    with pytest.raises(ConfigError, match="overlap_sentences=-1"):
        Chunker(words, max_tokens=10, overlap_sentences=-1)
    with pytest.raises(ConfigError, match="max_tokens=0"):
        Chunker(words, max_tokens=0)
    with pytest.raises(ConfigError, match="embedder_or_token_counter=3"):
        Chunker(3, max_tokens=10)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_tokens=2 leaves no room"):
        Chunker(words, max_tokens=2).chunk(Document(id="x", text="Words."))


_word = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
_sentence = st.lists(_word, min_size=1, max_size=25).map(lambda ws: " ".join(ws) + ".")
_text = st.lists(st.tuples(_sentence, st.sampled_from([" ", "  ", "\n", "\n\n"])), max_size=15).map(
    lambda parts: "".join(s + sep for s, sep in parts)
).map(lambda t: re.sub(r"[a-j]+", lambda m: f"{m.group()}{m.start()}", t))  # unique words: no repeated chunks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_text, limit=st.integers(min_value=4, max_value=40), overlap=st.integers(min_value=0, max_value=3))
def test_property_offsets_limits_and_coverage(text, limit, overlap):
    doc = Document(id="p", text=text)
    chunks = Chunker(words, max_tokens=limit, overlap_sentences=overlap).chunk(doc)
    check_chunks(doc, chunks, limit, words)
    assert chunks == Chunker(words, max_tokens=limit, overlap_sentences=overlap).chunk(doc)


def test_progress_bar_goes_to_stderr(sample_docs, capsys):
    chunks = chunk_documents(sample_docs, words, max_tokens=60, show_progress=True, batch_docs=3)
    out, err = capsys.readouterr()
    assert chunks and out == "" and "chunking" in err and f"{len(sample_docs)}/{len(sample_docs)}" in err


def test_chunk_ids_are_unambiguous_through_nul_and_unchanged_otherwise():
    """Issue 25: ``id + "\\0" + text`` gave ``col\\0Warranty``/``T`` and ``col``/``Warranty\\0T`` one chunk
    id, so the second document had no chunk while its ingest said ``chunks: 1``."""
    import hashlib

    assert chunk_id("col\x00Warranty", "T") != chunk_id("col", "Warranty\x00T")
    assert chunk_id("a\x00b", "c") != chunk_id("a\x00b", "c\x00") != chunk_id("a", "b\x00c")
    # ids of every NUL-free document id are those existing indexes hold
    for doc_id, text in [("faq/card", "A card."), ("col", "Warranty\x00T"), ("", "x")]:
        assert chunk_id(doc_id, text) == hashlib.sha256(f"{doc_id}\x00{text}".encode()).hexdigest()[:32]
    assert chunk_id("faq/card", "A card.") == "c9cebe0a4f2d39c0827def2aaa473e4b"  # pinned: saved indexes hold it


def test_loaders_skip_unreachable_ids_and_put_ids_in_nfc(tmp_path):
    """Issue 25: ids with newlines or zero-width characters from files (the CLI's path) are skipped
    with the reason; decomposed (NFD) ids are stored in NFC."""
    import json
    import unicodedata

    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"id": "ok", "text": "Fine."}, {"id": "a\nb", "text": "Newline."}, {"id": "refunds\u200b.md", "text": "Zero width."},
        {"id": unicodedata.normalize("NFD", "café"), "text": "Decomposed."},
    ]) + "\n", encoding="utf-8")
    r = load_documents(f)
    assert [d.id for d in r.documents] == ["ok", "café"]
    reasons = " | ".join(s.reason for s in r.skipped)
    assert "U+000A (line feed)" in reasons and "U+200B" in reasons and "rename the file or fix the record's id" in reasons
