"""How near the generator came to declining (``decline_gap``), and the decline margin that turns a
near-decline into one (issue 21: the generator still declines when nothing shown is relevant)."""

from __future__ import annotations

import json
import shutil

import pytest

from groundqa.errors import ConfigError
from groundqa.generate import TransformersGenerator

QS = ["Who won the game?", "What boils at one hundred degrees?"]
PS = [["Denver Broncos defeated the Carolina Panthers."], ["Water boils at one hundred degrees.", "The Moon orbits the Earth."]]


def _gen(tiny_dir, **kw):
    g = TransformersGenerator(str(tiny_dir), max_new_tokens=8, batch_size=4, device="cpu", **kw)
    g.warm_up()
    return g


def test_decline_means_equal_a_full_forward_pass(tiny_dir):
    import torch

    g = _gen(tiny_dir, score_decline=True)
    assert g._prefix_state() is not None  # the cached path is the one under test
    prompts = [g.prompt(q, p) for q, p in zip(QS, PS)]
    g.generate_batch(QS, PS)  # the prompts are in the prompt cache now
    got = g._decline_means(prompts)
    d = g.tokenizer(g.template.decline, add_special_tokens=False)["input_ids"]
    for prompt, mean in zip(prompts, got):
        p = g.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(g.model(input_ids=torch.tensor([p + d])).logits[0].float(), dim=-1)
        want = sum(float(logp[len(p) - 1 + j, t]) for j, t in enumerate(d)) / len(d)
        assert mean == pytest.approx(want, abs=1e-4)


def test_decline_gap_is_the_same_with_and_without_the_prompt_cache(tiny_dir):
    cached = _gen(tiny_dir, score_decline=True).generate_batch(QS, PS)
    plain = _gen(tiny_dir, score_decline=True, prefix_cache=False).generate_batch(QS, PS)
    for a, b in zip(cached, plain):
        assert a.text == b.text
        assert a.confidence["decline_gap"] == pytest.approx(b.confidence["decline_gap"], abs=1e-3)
    # not asked for: not computed (it costs a forward pass over the decline sentence)
    assert "decline_gap" not in _gen(tiny_dir, decline_margin=None).generate_batch(QS, PS)[0].confidence


def test_a_margin_turns_near_declines_into_declines_and_keeps_what_was_written(tiny_dir):
    free = _gen(tiny_dir, decline_margin=None, score_decline=True).generate_batch(QS, PS)
    assert not any(g.declined for g in free)
    margin = max(-g.confidence["decline_gap"] for g in free) + 0.01  # every answer is within it
    gated = _gen(tiny_dir, decline_margin=margin).generate_batch(QS, PS)
    for f, g in zip(free, gated):
        assert g.declined
        assert g.text == "The documents do not contain the answer."
        assert g.citations == () and g.grounding is None
        assert g.raw_text == f.raw_text  # what the model wrote is kept
        assert g.confidence["decline_gap"] == pytest.approx(f.confidence["decline_gap"], abs=1e-4)
    tight = min(-g.confidence["decline_gap"] for g in free) - 0.01  # no answer is within it
    assert not any(g.declined for g in _gen(tiny_dir, decline_margin=tight).generate_batch(QS, PS))


def test_auto_reads_the_adapter_card_and_bad_margins_say_the_fix(tiny_dir, tmp_path):
    assert _gen(tiny_dir).decline_margin is None  # no card: never
    folder = tmp_path / "with-card"
    shutil.copytree(tiny_dir, folder)
    (folder / "groundqa_card.json").write_text(json.dumps({"decline_margin": 0.45}))
    g = _gen(folder)
    assert g.decline_margin == 0.45
    assert g.identity()["decline_margin"] == 0.45
    assert _gen(folder, decline_margin=None).decline_margin is None
    assert _gen(folder, decline_margin="none").decline_margin is None  # as a TOML file says it
    for bad in ("often", True, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="decline_margin"):
            TransformersGenerator(str(tiny_dir), decline_margin=bad)


def test_decline_gap_of_a_written_text_equals_a_full_forward_pass(tiny_dir):
    import torch

    g = _gen(tiny_dir, decline_margin=None)
    q, ps, text = QS[1], PS[1], "Water boils [1]"
    assert g.decline_gap(q, ps, g.template.decline) == 0.0
    tok, prompt = g.tokenizer, g.prompt(q, ps)
    p = tok(prompt, add_special_tokens=False)["input_ids"]

    def mean(cont):
        ids = tok(cont, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(g.model(input_ids=torch.tensor([p + ids])).logits[0].float(), dim=-1)
        return sum(float(logp[len(p) - 1 + j, t]) for j, t in enumerate(ids)) / len(ids)

    # the bracket stop_at_citation closes was never generated, so it is not read
    assert g.decline_gap(q, ps, text) == pytest.approx(mean(g.template.decline) - mean("Water boils [1"), abs=1e-4)


def test_the_pipeline_declines_a_streamed_answer_as_ask_does(tiny_dir):
    from groundqa.index import HybridIndex
    from groundqa.pipeline import Pipeline
    from groundqa.testing import HashEmbedder, KeywordGuard
    from groundqa.types import Chunk

    index = HybridIndex(HashEmbedder())
    index.add([Chunk(f"d{i}#0", f"d{i}", text, 0, len(text)) for i, text in enumerate(PS[1])])
    free = _gen(tiny_dir, decline_margin=None, score_decline=True)
    hits = index.search(QS[1], top_k=2)
    gap = free.generate_batch(QS[1:], [hits])[0].confidence["decline_gap"]
    for margin, verdict in ((-gap + 0.01, "declined"), (-gap - 0.01, None)):
        pipe = Pipeline(index, _gen(tiny_dir, decline_margin=margin), KeywordGuard(), policy="return", top_k=2)
        asked = pipe.ask(QS[1])
        streamed = [e for e in pipe.stream(QS[1]) if e.kind == "done"][0].answer
        assert asked.verdict == streamed.verdict
        assert (asked.verdict == "declined") is (verdict == "declined")
        if verdict == "declined":
            assert asked.text == streamed.text == "The documents do not contain the answer."
