"""The pipeline's wiring, with the public fakes: real index (hash embedder), fake generator and guard."""

import pytest

from groundqa.errors import ConfigError
from groundqa.index import HybridIndex
from groundqa.pipeline import Answer, Pipeline
from groundqa.testing import ExtractiveGenerator, HashEmbedder, KeywordGuard

from .index.corpus import make_chunks


@pytest.fixture(scope="module")
def index():
    idx = HybridIndex(HashEmbedder())
    idx.add(make_chunks())
    return idx


def test_ask_returns_a_typed_verified_answer(index):
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard(), top_k=2)
    a = pipe.ask("Who discovered oxygen?")
    assert isinstance(a, Answer) and a.answered and a.verdict == "supported"
    assert a.text.startswith("Joseph Priestley") and a.text.endswith("[1]")
    assert len(a.claims) == 1 and a.claims[0].supported and "[1]" not in a.claims[0].text
    assert a.passages[0].doc_id == "oxygen" and len(a.passages) == 2
    assert set(a.timings) == {"retrieve", "generate", "verify", "total"} and a.timings["total"] >= a.timings["retrieve"]
    assert a.models == {"embedder": "hash", "generator": "extractive-fake", "verifier": "keyword-fake"}
    d = a.to_dict()
    assert d["answer"] == a.text and d["claims"][0]["verdict"] == "supported" and d["passages"][0]["doc_id"] == "oxygen"


@pytest.mark.parametrize(
    "policy,verdict",
    [("return", "unsupported"), ("flag", "flagged"), ("strip", "trimmed"), ("abstain", "withheld")],
)
def test_policies_on_an_answer_with_an_invented_claim(index, policy, verdict):
    gen = ExtractiveGenerator(extra="Priestley later moved to Mars in 1999.")
    a = Pipeline(index, gen, KeywordGuard(), policy=policy).ask("Who discovered oxygen?")
    assert a.verdict == verdict
    assert [c.supported for c in a.claims] == [True, False]
    if policy == "strip":
        assert "Mars" not in a.text and a.text.startswith("Joseph Priestley")
    if policy == "abstain":
        assert "Priestley" not in a.text and "not supported" in a.reason


def test_decline_and_relevance_gate(index):
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard())
    a = pipe.ask("zzz qqq?")
    assert a.verdict == "declined" and not a.answered and a.claims == ()
    gated = Pipeline(index, ExtractiveGenerator(), KeywordGuard(), min_relevance=1.01).ask("Who discovered oxygen?")
    assert gated.verdict == "withheld" and gated.reason.startswith("no relevant passage") and gated.generated == ""


def test_ask_batch_equals_ask_and_filters_pass_through(index):
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard())
    qs = ["Who discovered oxygen?", "What is the capital of Poland?"]
    batch = pipe.ask_batch(qs)
    assert [a.text for a in batch] == [pipe.ask(q).text for q in qs]
    only = pipe.ask("What is the capital of Poland?", filters={"title": "oxygen"})
    assert all(p.doc_id == "oxygen" for p in only.passages)


def test_stream_yields_judged_sentences_then_the_answer(index):
    gen = ExtractiveGenerator(extra="Priestley later moved to Mars in 1999.")
    events = list(Pipeline(index, gen, KeywordGuard(), policy="flag").stream("Who discovered oxygen?"))
    sentences = [e for e in events if e.kind == "sentence"]
    assert [e.claims[0].supported for e in sentences] == [True, False]
    done = events[-1]
    assert done.kind == "done" and done.answer.verdict == "flagged"
    assert "".join(s.text + " " for s in sentences).strip() == done.answer.generated.strip()
    # claim spans are positions in the whole answer, not in the sentence
    c = done.answer.claims[1]
    assert done.answer.generated[c.start : c.end].startswith("Priestley later")
    stopped = list(Pipeline(index, gen, KeywordGuard(), policy="abstain").stream("Who discovered oxygen?"))
    assert stopped[-1].answer.verdict == "withheld"
    stripped = list(Pipeline(index, gen, KeywordGuard(), policy="strip").stream("Who discovered oxygen?"))
    assert [e.text for e in stripped if e.kind == "sentence"] == [sentences[0].text]


def test_bad_input(index):
    pipe = Pipeline(index, ExtractiveGenerator(), KeywordGuard())
    with pytest.raises(ConfigError, match="question='  ' is empty"):
        pipe.ask("  ")
    with pytest.raises(ConfigError, match="policy='never'"):
        pipe.ask("x?", policy="never")
    with pytest.raises(ConfigError, match="top_k=0"):
        Pipeline(index, ExtractiveGenerator(), KeywordGuard(), top_k=0)
    with pytest.raises(ConfigError, match="unknown config section"):
        Pipeline.from_config({"retreiver": {}})


def test_abstain_is_the_default_policy_everywhere(index):
    """An unsupported answer is withheld unless a caller asks for flag/return (issue 17, item 1):
    the Pipeline, a TOML config without [pipeline] policy (what `groundqa serve` builds) and
    `groundqa ask` without --policy all withhold it."""
    from groundqa.cli import build_parser
    from groundqa.cli.ask import _pipeline
    from groundqa.config import build_pipeline

    gen = ExtractiveGenerator(extra="Priestley later moved to Mars in 1999.")
    a = Pipeline(index, gen, KeywordGuard()).ask("Who discovered oxygen?")
    assert a.policy == "abstain" and a.verdict == "withheld" and not a.answered and "Mars" not in a.text
    assert build_pipeline({}, retriever=index).policy == "abstain"
    args = build_parser().parse_args(["ask", "--index", "x", "q?"])
    assert _pipeline(index, args.generator, args.verifier, args.policy, args.top_k).policy == "abstain"
