"""Training that cannot finish broken (issue 23): a non-finite loss or gradient stops the run with
an error naming the step, nothing is written as a model, the last good checkpoint is kept; bf16
mixed precision is opt-in and runs a real autocast step on the CPU."""

from __future__ import annotations

import json

import pytest

from groundqa.errors import ConfigError, GroundQAError
from groundqa.train.finetune import FinetuneConfig, finetune

DOCS = {
    "alpha": ["Ann founded the alpha club in 1901 in Paris.", "The alpha club has red doors.", "Members of alpha meet on Monday."],
    "beta": ["Bob built the beta bridge from stone.", "The beta bridge is long.", "Beta has a river."],
    "gamma": ["Cy wrote the gamma song in winter.", "The gamma song is slow.", "Gamma is a town."],
    "delta": ["Dee painted the delta house blue.", "The delta house is old.", "Delta has hills."],
}


def _items():
    from groundqa.datasets.squad import QAItem

    qs = [("Who founded the alpha club?", "Ann", 0, "alpha"), ("What color are the doors?", "red", 1, "alpha"),
          ("What is the bridge made of?", "stone", 0, "beta"), ("Is the bridge long?", "long", 1, "beta"),
          ("When was the song written?", "winter", 0, "gamma"), ("How is the song?", "slow", 1, "gamma"),
          ("What color is the house?", "blue", 0, "delta"), ("Is the house old?", "old", 1, "delta")]
    return [QAItem(id=str(i), question=q, answers=(a,), context=DOCS[d][pi], doc_id=d, answer_starts=(DOCS[d][pi].find(a),))
            for i, (q, a, pi, d) in enumerate(qs)]


def _write_jsonl(path, items):
    rows = [{"id": it.id, "question": it.question, "answer": it.answers[0], "context": it.context, "doc_id": it.doc_id}
            for it in items]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.fixture
def tiny(tiny_dir):
    """A fresh copy of the session's tiny random-weight model and its tokenizer, in memory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


def _cfg(tmp_path, **kw):
    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    base = dict(data=str(data), base="tiny", out=str(tmp_path / "out"), lora=True, lora_r=4, max_steps=4, batch_size=2,
                grad_accum=1, eval_steps=2, dev_sample=1, dev_docs=0.25, max_new_tokens=2, patience=10)
    return FinetuneConfig(**(base | kw))


class _Poison:
    """Counts training forwards of ``model``; from forward ``at`` on, turns the loss (logits) or a
    LoRA gradient into NaN."""

    def __init__(self, model, at: int, where: str) -> None:
        import torch

        self.n = 0
        self.at = at

        def hook(module, args, output):
            if module.training:
                self.n += 1
                if where == "loss" and self.n >= self.at:
                    output.logits = output.logits * float("nan")
            return output

        model.register_forward_hook(hook)
        self.where = where
        self.torch = torch

    def poison_grads(self, model) -> None:
        for name, p in model.named_parameters():
            if "lora_B" in name and p.requires_grad:
                p.register_hook(lambda g: g * float("nan") if self.n >= self.at else g)
                return


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_non_finite_loss_or_gradient_stops_the_run_and_writes_no_model(tmp_path, monkeypatch, where, tiny):
    monkeypatch.setenv("GROUNDQA_KEEP_CHECKPOINTS", "1")
    model, tok = tiny
    poison = _Poison(model, at=3, where=where)  # steps 1 and 2 are good; a checkpoint is written at step 2
    if where == "gradient":
        import peft

        real = peft.get_peft_model

        def wrapped(m, *a, **k):
            pm = real(m, *a, **k)
            poison.poison_grads(pm)
            return pm

        monkeypatch.setattr(peft, "get_peft_model", wrapped)
    cfg = _cfg(tmp_path)
    with pytest.raises(GroundQAError, match=r"step 3\b") as exc:
        finetune(cfg, model=model, tokenizer=tok, show_progress=False)
    msg = str(exc.value)
    assert ("loss is nan" in msg) if where == "loss" else ("gradient of" in msg)
    assert "Fix:" in msg and "--lr" in msg and "Nothing was written" in msg
    out = tmp_path / "out"
    assert not (out / "adapter_config.json").exists() and not (out / "adapter_model.safetensors").exists()
    assert not (out / "groundqa_card.json").exists()
    good = out / "checkpoints" / "checkpoint-2"
    assert str(good) in msg and (good / "adapter_model.safetensors").exists()
    assert exc.value.step == 3 and exc.value.checkpoint == str(good)
    # the kept checkpoint holds finite weights
    import torch
    from safetensors.torch import load_file

    assert all(torch.isfinite(v).all() for v in load_file(str(good / "adapter_model.safetensors")).values())


def test_divergence_through_the_cli_exits_non_zero(tmp_path, tiny_dir, monkeypatch, capsys):
    """The CLI turns the error into exit status 1 with the message (here: the tiny model's weights
    are made infinite, so the first loss is not finite and no checkpoint exists yet)."""
    import torch
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(tiny_dir, broken)
    w = load_file(str(broken / "model.safetensors"))
    key = next(k for k in w if "norm" in k)
    w[key] = torch.full_like(w[key], float("inf"))
    save_file(w, str(broken / "model.safetensors"), metadata={"format": "pt"})
    data = tmp_path / "d.jsonl"
    _write_jsonl(data, _items())
    from groundqa.cli import main

    rc = main(["finetune", "--data", str(data), "--base", str(broken), "--out", str(tmp_path / "o"), "--lora", "--lora-r", "2",
               "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--dev-sample", "1", "--dev-docs", "0.25",
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "step 1 of 2" in err and "no checkpoint was written before step 1" in err
    assert not (tmp_path / "o" / "adapter_config.json").exists()


def test_bf16_autocast_step_on_a_tiny_model(tmp_path, tiny):
    model, tok = tiny
    res = finetune(_cfg(tmp_path, precision="bf16", max_steps=2), model=model, tokenizer=tok, show_progress=False)
    t = res.card["training"]
    assert t["precision"] == "bf16" and t["compute_dtype"] == "bfloat16"  # autocast really ran
    assert t["steps"] == 2 and t["train_loss"] == t["train_loss"]  # finite (NaN != NaN)
    assert res.card["hyperparameters"]["precision"] == "bf16"
    assert "Precision: bf16" in (tmp_path / "out" / "README.md").read_text()


def test_fp32_is_the_default_and_precision_is_checked(tmp_path, tiny):
    model, tok = tiny
    res = finetune(_cfg(tmp_path, max_steps=1), model=model, tokenizer=tok, show_progress=False)
    assert res.card["training"]["precision"] == "fp32" and res.card["training"]["compute_dtype"] == "float32"
    assert json.loads((tmp_path / "out" / "groundqa_card.json").read_text())["hyperparameters"]["precision"] == "fp32"
    with pytest.raises(ConfigError, match="precision"):
        _cfg(tmp_path, precision="int4")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="fp16.*CUDA"):
            finetune(_cfg(tmp_path, precision="fp16"), model=model, tokenizer=tok, show_progress=False)


def test_sliced_loss_equals_the_full_shifted_loss(tmp_path, tiny):
    """The loss computes logits only from the first target position on; check it against the plain
    causal-LM loss over the whole left-padded batch (same mean over target tokens)."""
    import torch

    from groundqa.train.finetune import LeftPadCollator, build_examples, encode_example
    from groundqa.generate.prompts import PromptTemplate
    from groundqa.datasets.squad import context_pool

    model, tok = tiny
    items = _items()
    ex = build_examples(items[:3], PromptTemplate(), seed=0, pool=context_pool(items))
    batch = LeftPadCollator(tok.pad_token_id)([encode_example(tok, PromptTemplate(), e) for e in ex])
    labels = batch["labels"]
    first = int((labels != -100).float().argmax(dim=1).min())
    keep = labels.shape[1] - max(0, first - 1)
    with torch.no_grad():
        sliced = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    target = labels[:, labels.shape[1] - keep + 1:]
    a = torch.nn.functional.cross_entropy(sliced[:, :-1].reshape(-1, sliced.shape[-1]).float(), target.reshape(-1), ignore_index=-100)
    b = torch.nn.functional.cross_entropy(full[:, :-1].reshape(-1, full.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100)
    assert torch.isfinite(a) and torch.allclose(a, b, atol=1e-5)


def test_a_one_step_run_trains(tmp_path, tiny):
    """Warm-up used to be at least one step, so the first optimizer step ran at learning rate 0 and
    a one-step run (the first points of a --curve) left the adapter at its initial zero update."""
    import torch
    from safetensors.torch import load_file

    model, tok = tiny
    res = finetune(_cfg(tmp_path, max_steps=1, learning_rate=1e-2), model=model, tokenizer=tok, show_progress=False)
    assert res.card["hyperparameters"]["warmup_steps"] == 0
    b = [v for k, v in load_file(str(tmp_path / "out" / "adapter_model.safetensors")).items() if "lora_B" in k]
    assert b and max(float(v.float().abs().max()) for v in b) > 0


def test_decline_from_other_shows_only_other_documents_and_skips_v2_unanswerables():
    """Issue 21's recipe: a decline example shows nothing about its question (passages of other
    documents only), every answerable example keeps its gold passage, and an unanswerable question
    whose paragraph is about it is not trained (the guard decides those)."""
    import dataclasses

    from groundqa.datasets.squad import context_pool
    from groundqa.train.finetune import build_examples
    from groundqa.generate.prompts import DECLINE, PromptTemplate

    items = _items()
    unans = dataclasses.replace(items[0], id="u", question="Who painted the alpha doors?", answers=(), answer_starts=())
    pool = context_pool(items)
    ex = build_examples(items + [unans], PromptTemplate(), seed=0, unanswerable_rate=0.5, pool=pool, decline_from="other")
    assert "u" not in {e.id for e in ex} and len(ex) == len(items)
    declines = [e for e in ex if not e.answerable]
    assert declines, "with unanswerable_rate=0.5 some gold passages are dropped"
    for e in declines:
        own = set(DOCS[next(it.doc_id for it in items if it.id == e.id)])
        assert e.target.startswith(DECLINE) and e.passages and not own & set(e.passages)
    for e in ex:
        if e.answerable:
            gold = next(it.context for it in items if it.id == e.id)
            assert gold in e.passages
    same = build_examples(items + [unans], PromptTemplate(), seed=0, unanswerable_rate=0.5, pool=pool)
    assert "u" in {e.id for e in same}  # the old recipe still trains same-paragraph declines


def test_init_adapter_and_decline_from_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="decline_from"):
        _cfg(tmp_path, decline_from="never")
    with pytest.raises(ConfigError, match="init_adapter.*adapter_config"):
        _cfg(tmp_path, init_adapter=str(tmp_path))
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="init_adapter.*--lora"):
        _cfg(tmp_path, init_adapter=str(tmp_path / "ad"), lora=False)


def test_training_continues_from_an_adapter(tmp_path, tiny_dir):
    """--init-adapter starts from the adapter's own weights, not a fresh zero update: at a learning
    rate too small to move them, the continued adapter equals the one it started from."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def run(out, **kw):
        model, tok = AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)
        finetune(_cfg(tmp_path, out=str(tmp_path / out), dev_docs=0.0, **kw), model=model, tokenizer=tok, show_progress=False)
        return {k: v.float() for k, v in load_file(str(tmp_path / out / "adapter_model.safetensors")).items()}

    first = run("a", max_steps=2, learning_rate=1e-2)
    assert max(float(v.abs().max()) for k, v in first.items() if "lora_B" in k) > 0
    kept = run("b", max_steps=1, learning_rate=1e-12, init_adapter=str(tmp_path / "a"))
    assert kept.keys() == first.keys()
    assert all(torch.allclose(kept[k], first[k], atol=1e-3) for k in first)
    moved = run("c", max_steps=2, learning_rate=1e-2, init_adapter=str(tmp_path / "a"))
    assert any(not torch.allclose(moved[k], first[k], atol=1e-4) for k in first)
