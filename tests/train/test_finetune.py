"""Fine-tuning: examples, loss masking, the dev split, and the whole run on a tiny model."""

from __future__ import annotations

import json

import pytest

from groundqa.datasets.squad import QAItem, context_pool
from groundqa.errors import ConfigError
from groundqa.generate import DECLINE, PromptTemplate, TransformersGenerator
from groundqa.train.finetune import (
    Example,
    FinetuneConfig,
    LeftPadCollator,
    build_examples,
    encode_example,
    finetune,
    split_by_document,
)

DOCS = {
    "alpha": ["Ann founded the alpha club in 1901 in Paris.", "The alpha club has red doors.", "Members of alpha meet on Monday."],
    "beta": ["Bob built the beta bridge from stone.", "The beta bridge is long.", "Beta has a river."],
    "gamma": ["Cy wrote the gamma song in winter.", "The gamma song is slow.", "Gamma is a town."],
    "delta": ["Dee painted the delta house blue.", "The delta house is old.", "Delta has hills."],
}


def _items() -> list[QAItem]:
    qs = [("Who founded the alpha club?", "Ann", 0, "alpha"), ("What color are the doors?", "red", 1, "alpha"),
          ("What is the bridge made of?", "stone", 0, "beta"), ("Is the bridge long?", "long", 1, "beta"),
          ("When was the song written?", "winter", 0, "gamma"), ("How is the song?", "slow", 1, "gamma"),
          ("What color is the house?", "blue", 0, "delta"), ("Is the house old?", "old", 1, "delta")]
    out = []
    for i, (q, a, pi, d) in enumerate(qs):
        ctx = DOCS[d][pi]
        out.append(QAItem(id=str(i), question=q, answers=(a,), context=ctx, doc_id=d, answer_starts=(ctx.find(a),)))
    return out


def _write_jsonl(path, items):
    rows = [{"id": it.id, "question": it.question, "answer": it.answers[0], "context": it.context, "doc_id": it.doc_id}
            for it in items]
    # other paragraphs of each document, as unanswerable questions, so distractors come from the same document
    rows += [{"question": "What is unknown here?", "answer": "", "context": c, "doc_id": d} for d, cs in DOCS.items() for c in cs[2:]]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_examples_put_gold_among_distractors_with_its_citation():
    items = _items()
    exs = build_examples(items, PromptTemplate(), seed=0, distractors=(2, 2), unanswerable_rate=0.0,
                         pool={d: list(c) for d, c in DOCS.items()})
    for it, ex in zip(items, exs):
        assert len(ex.passages) == 3 and ex.answerable
        n = int(ex.target.rsplit("[", 1)[1].rstrip("]"))
        assert ex.passages[n - 1] == it.context and ex.target == f"{it.answers[0]} [{n}]"
        assert all(p in DOCS[it.doc_id] for p in ex.passages)  # distractors from the same document


def test_unanswerable_examples_target_the_decline_sentence():
    exs = build_examples(_items(), PromptTemplate(), seed=0, distractors=(1, 1), unanswerable_rate=0.99,
                         pool={d: list(c) for d, c in DOCS.items()})
    assert all(e.target == DECLINE and not e.answerable for e in exs)
    assert all(it.context not in e.passages for it, e in zip(_items(), exs))


def test_free_form_answers_keep_their_target_when_passages_are_cut(tmp_path):
    # a yes/no answer is not a span of its passage: cutting the passage must not turn it into a
    # decline example, and "no" must not be found inside "not" or "know"
    from groundqa.datasets.squad import load_squad

    ctx = "We do not know whether the drug works; " + "the trial was small and short. " * 20
    (tmp_path / "yn.jsonl").write_text(json.dumps({"question": "Does it work?", "answer": "no", "context": ctx, "doc_id": "d1"}) + "\n")
    items = load_squad(tmp_path / "yn.jsonl")
    assert items[0].answer_starts == (-1,)
    exs = build_examples(items, PromptTemplate(), seed=0, distractors=(0, 0), unanswerable_rate=0.0, max_passage_words=16)
    assert exs[0].answerable and exs[0].target == "no [1]" and exs[0].passages[0].endswith("...")


def test_dev_split_is_by_document():
    train, dev, dev_docs = split_by_document(_items(), 0.25, seed=0)
    assert len(dev_docs) == 1
    assert {it.doc_id for it in dev} == set(dev_docs)
    assert not {it.doc_id for it in train} & set(dev_docs)
    with pytest.raises(ConfigError, match="at least 2"):
        split_by_document(_items()[:2], 0.5, seed=0)


def test_loss_mask_covers_only_the_answer_and_end_token(tiny_gen):
    tok = tiny_gen.tokenizer
    ex = Example(question="Who?", passages=("Ann came.",), target="Ann [1]", answerable=True, doc_id="d")
    row = encode_example(tok, PromptTemplate(), ex)
    target_ids = tok("Ann [1]", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    n = len(target_ids)
    assert row["labels"][-n:] == target_ids == row["input_ids"][-n:]
    assert set(row["labels"][:-n]) == {-100}
    prompt_ids = tok(PromptTemplate().render(tok, "Who?", ["Ann came."]), add_special_tokens=False)["input_ids"]
    assert row["input_ids"][:-n] == prompt_ids  # exactly the prompt the generator will use

    batch = LeftPadCollator(tok.pad_token_id)([row, {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    short = batch["labels"][1].tolist()
    assert short[-3:] == [-100, 6, 7] and set(short[:-3]) == {-100}
    assert batch["attention_mask"][1].tolist()[-3:] == [1, 1, 1] and batch["attention_mask"][1].sum() == 3


def test_config_errors_name_the_field(tmp_path):
    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    with pytest.raises(ConfigError, match="data="):
        FinetuneConfig(data=str(tmp_path / "missing.json"), base="x", out=str(tmp_path / "o"))
    with pytest.raises(ConfigError, match="unanswerable_rate"):
        FinetuneConfig(data=str(data), base="x", out=str(tmp_path / "o"), unanswerable_rate=1.5)
    with pytest.raises(ConfigError, match="distractors"):
        FinetuneConfig(data=str(data), base="x", out=str(tmp_path / "o"), distractors=(3, 1))


def test_full_finetune_end_to_end_writes_a_loadable_model_and_card(tmp_path, tiny_dir):
    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    cfg = FinetuneConfig(data=str(data), base=str(tiny_dir), out=str(tmp_path / "full"), max_steps=3, batch_size=2,
                         grad_accum=1, eval_steps=2, dev_sample=2, dev_docs=0.25, max_new_tokens=4, learning_rate=1e-3)
    res = finetune(cfg, show_progress=False)
    card = json.loads((tmp_path / "full" / "groundqa_card.json").read_text())
    assert card == res.card
    assert card["method"] == "full" and card["base"] == str(tiny_dir)
    assert len(card["data"]["sha256"]) == 64 and card["data"]["train_examples"] > 0
    assert card["training"]["steps"] == 3 and card["training"]["seconds"] > 0
    assert card["hyperparameters"]["learning_rate"] == 1e-3
    assert {"f1", "em", "decline_rate"} <= set(card["dev"]["after"])
    assert any("eval_f1" in h for h in card["dev"]["history"])
    f = card["forgetting"]
    assert f["before"]["perplexity"] > 1 and f["after"]["perplexity"] > 1 and len(f["after"]["general_answers"]) == 6
    assert "perplexity, fixed general text" in (tmp_path / "full" / "README.md").read_text()
    assert not (tmp_path / "full" / "checkpoints").exists()
    g = TransformersGenerator(str(tmp_path / "full"), max_new_tokens=3, device="cpu")
    assert g.generate("Who founded the alpha club?", DOCS["alpha"]).tokens > 0


def test_lora_through_the_cli_then_bench_qa(tmp_path, tiny_dir):
    from groundqa.cli import main
    from safetensors.torch import load_file

    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    out = tmp_path / "lora"
    rc = main(["finetune", "--data", str(data), "--base", str(tiny_dir), "--out", str(out), "--lora", "--lora-r", "4",
               "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--eval-steps", "1", "--dev-sample", "2",
               "--dev-docs", "0.25", "--no-progress", "--seed", "1"])
    assert rc == 0
    assert (out / "adapter_config.json").exists()
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert weights and all(str(v.dtype) == "torch.float16" for v in weights.values())  # stored half size
    card = json.loads((out / "groundqa_card.json").read_text())
    assert card["method"] == "lora" and card["hyperparameters"]["lora_r"] == 4 and card["hyperparameters"]["seed"] == 1
    # the folder loads as a generator: base from the card, adapter applied
    g = TransformersGenerator(str(out), max_new_tokens=3, device="cpu")
    g.warm_up()
    assert g.identity()["adapter"] == str(out)
    # and bench qa runs with it on the same data (gold passages among distractors)
    report = tmp_path / "qa.json"
    rc = main(["bench", "qa", "--data", str(data), "--context", "gold", "--generator", str(out), "--limit", "4",
               "--max-new-tokens", "3", "--json", str(report)])
    assert rc == 0
    r = json.loads(report.read_text())
    assert r["n"] == 4 and 0 <= r["f1"] <= 100 and r["tokens_per_s"] > 0 and len(r["records"]) == 4

    # a scaled copy moves the model part of the way back to the base: logits in between, card updated
    import torch
    from safetensors.torch import save_file

    # two tiny steps leave lora_B near zero: give it a visible update first
    gen = torch.Generator().manual_seed(0)
    save_file({k: (torch.randn(v.shape, generator=gen) * 0.5).to(v.dtype) if "lora_B" in k else v for k, v in weights.items()},
              str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    import numpy as np

    from groundqa.generate.probe import HiddenProbe

    HiddenProbe(layer=1, weight=np.zeros(32), bias=0.0).save(out)  # a probe fitted on these weights
    half = tmp_path / "lora-half"
    assert main(["adapter-scale", str(out), "--scale", "0.5", "--out", str(half), "--note", "picked on dev"]) == 0
    card_h = json.loads((half / "groundqa_card.json").read_text())
    assert card_h["scaled"]["scale"] == 0.5 and card_h["scaled"]["note"] == "picked on dev"
    assert not (half / "groundqa_probe.json").exists()  # the scaled weights are not the ones it was fitted on
    assert card_h["scaled"]["forgetting_after"]["perplexity"] > 1 and "Scaled after training" in (half / "README.md").read_text()
    assert json.loads((half / "adapter_config.json").read_text())["lora_alpha"] == card["hyperparameters"]["lora_alpha"] * 0.5
    weights_of = {name: TransformersGenerator(ref, device="cpu").model.state_dict()
                  for name, ref in (("base", str(tiny_dir)), ("full", str(out)), ("half", str(half)))}
    key = next(k for k in weights_of["base"] if k.endswith("q_proj.weight"))
    d_full = weights_of["full"][key] - weights_of["base"][key]
    d_half = weights_of["half"][key] - weights_of["base"][key]
    assert d_full.abs().max() > 1e-3
    assert torch.allclose(d_half, 0.5 * d_full, atol=1e-5)  # the merged update is exactly halved
    from groundqa.train.finetune import scale_adapter

    with pytest.raises(ConfigError, match="not empty"):
        scale_adapter(out, half, 0.5)
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        scale_adapter(out, tmp_path / "x", 1.5)
    with pytest.raises(ConfigError, match="not a LoRA adapter"):
        scale_adapter(tiny_dir, tmp_path / "x", 0.5)
    assert json.loads((half / "groundqa_card.json").read_text())["scaled"]["scale"] == 0.5  # left as it was


def test_resume_from_checkpoint(tmp_path, tiny_dir, monkeypatch):
    monkeypatch.setenv("GROUNDQA_KEEP_CHECKPOINTS", "1")
    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    kw = dict(data=str(data), base=str(tiny_dir), out=str(tmp_path / "r"), batch_size=2, grad_accum=1, eval_steps=1,
              dev_sample=1, dev_docs=0.25, max_new_tokens=2, patience=10)
    finetune(FinetuneConfig(max_steps=2, **kw), show_progress=False)
    assert (tmp_path / "r" / "checkpoints" / "checkpoint-2").exists()
    res = finetune(FinetuneConfig(max_steps=3, **kw), show_progress=False)
    assert res.card["training"]["steps"] == 3  # continued from step 2, not from 0


def test_small_data_splits_dev_by_row_or_not_at_all(tmp_path, tiny_dir):
    # a small review export: every row from one document, which a split by document cannot hold out
    from groundqa.cli import main
    from groundqa.train.finetune import split_dev

    rows = [{"id": i, "question": q, "answer": a, "context": DOCS["alpha"][k], "contexts": DOCS["alpha"], "doc_id": "alpha"}
            for i, (q, a, k) in enumerate([("Who founded the alpha club?", "Ann", 0), ("What color are the doors?", "red", 1),
                                           ("When do members meet?", "Monday", 2), ("Where was the club founded?", "Paris", 0)])]
    data = tmp_path / "export.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from groundqa.datasets.squad import load_squad

    items = load_squad(data)
    kw = dict(data=str(data), base=str(tiny_dir), out=str(tmp_path / "o"))
    train, dev, info = split_dev(items, FinetuneConfig(dev_docs=0.25, **kw))
    assert info["by"] == "rows" and len(dev) == 1 and len(train) == 3 and "the data has 1 document" in info["note"]
    with pytest.raises(ConfigError, match="at least 2"):
        split_dev(items, FinetuneConfig(dev_docs=0.25, dev_split="documents", **kw))
    train, dev, info = split_dev(items, FinetuneConfig(dev_docs=0, **kw))
    assert info["by"] == "none" and dev == [] and len(train) == 4
    train, dev, info = split_dev(items[:1], FinetuneConfig(**kw))
    assert info["by"] == "none" and "too few" in info["note"]
    with pytest.raises(ConfigError, match="dev_split"):
        FinetuneConfig(dev_split="random", **kw)

    out = tmp_path / "nodev"
    assert main(["finetune", "--data", str(data), "--base", str(tiny_dir), "--out", str(out), "--max-steps", "1", "--batch-size", "2",
                 "--grad-accum", "1", "--dev-docs", "0", "--unanswerable-rate", "0", "--no-progress"]) == 0
    card = json.loads((out / "groundqa_card.json").read_text())
    assert card["data"]["dev_split"] == "none" and card["dev"]["before"] is None and card["dev"]["after"] is None
    assert card["data"]["train_examples"] == 4 and card["data"]["train_unanswerable"] == 0 and card["training"]["steps"] == 1
    readme = (out / "README.md").read_text()
    assert "no dev split (dev_docs=0)" in readme and "dev token F1" not in readme
    out = tmp_path / "byrow"
    assert main(["finetune", "--data", str(data), "--base", str(tiny_dir), "--out", str(out), "--max-steps", "1", "--batch-size", "2",
                 "--grad-accum", "1", "--eval-steps", "1", "--dev-docs", "0.25", "--dev-sample", "1",
                 "--no-progress"]) == 0
    card = json.loads((out / "groundqa_card.json").read_text())
    assert card["data"]["dev_split"] == "rows" and card["data"]["dev_sample"] == 1 and card["dev"]["after"]["n_answerable"] == 1
    assert "dev split by row" in (out / "README.md").read_text()
