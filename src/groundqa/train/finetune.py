"""Fine-tune a generator on question-answer data with the transformers Trainer (and peft for LoRA).

Examples are built as the pipeline will show them: the gold passage at a random place among
distractor passages of the same document, the target a short answer with its citation ``[n]``.
Some examples have their gold passage removed (and SQuAD v2 unanswerable questions keep theirs
absent); their target is the decline sentence. The loss covers the target tokens only (labels are
-100 on the prompt and on padding); the dev split is by document (``dev_split="auto"``: by row when
the data has one document, as a small review export may; ``dev_docs=0``: no dev split, no early
stopping, the card says so); evaluation generates answers on a fixed dev sample and early stopping
watches its token F1. The output folder loads with
``TransformersGenerator(out)`` / ``--generator OUT`` and carries ``groundqa_card.json`` and
``README.md``: base, data fingerprint and size, hyper-parameters, dev metrics, training time and a
forgetting check (perplexity on a fixed general text, and a few general questions, before/after).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, TrainingDivergedError
from ..generate.prompts import PromptTemplate, window_around, truncate_words
from .rows import Rows

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class FinetuneConfig:
    """Every knob of a fine-tuning run (validated here, written into the card)."""

    data: str
    base: str
    out: str
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = LORA_TARGETS
    learning_rate: float | None = None  # default: 5e-4 with LoRA, 5e-5 full
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 2
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_examples: int | None = None
    distractors: tuple[int, int] = (1, 2)
    unanswerable_rate: float = 0.15
    decline_from: str = "same"  # same: a dropped gold passage leaves its document's other passages; other: only other documents'
    init_adapter: str | None = None  # a LoRA adapter folder to continue training from (its r, alpha and targets)
    max_passage_words: int = 80
    dev_docs: float = 0.1  # share held out as dev (documents, or rows); 0: no dev split
    dev_split: str = "auto"  # documents, rows, or auto (documents when there are 2+, else rows)
    dev_sample: int = 40
    dev_unanswerable_rate: float | None = None  # decline share of the dev sample (default: unanswerable_rate)
    select_by: str = "f1"  # f1: best dev token F1; f1+decline: best mean of dev F1 and dev decline rate
    eval_steps: int = 50
    patience: int = 3
    time_budget_min: float | None = None
    max_new_tokens: int = 32
    seed: int = 0
    threads: int | None = None
    save_total_limit: int = 2
    adapter_dtype: str = "float16"
    precision: str = "fp32"  # fp32 | bf16 | fp16 (mixed precision: autocast over fp32 weights)
    resume: bool = True
    command: str = ""

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, why: str) -> None:
            raise ConfigError(f"{name}={value!r} is not valid; {why}")

        if not Path(self.data).exists():
            bad("data", self.data, "the file does not exist")
        for name in ("batch_size", "grad_accum", "lora_r", "lora_alpha", "eval_steps", "dev_sample", "max_new_tokens"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                bad(name, v, "it must be an integer > 0")
        if not 0.0 <= self.unanswerable_rate < 1.0:
            bad("unanswerable_rate", self.unanswerable_rate, "it must be in [0, 1)")
        if self.dev_unanswerable_rate is not None and not 0.0 <= self.dev_unanswerable_rate < 1.0:
            bad("dev_unanswerable_rate", self.dev_unanswerable_rate, "it must be in [0, 1)")
        if self.select_by not in ("f1", "f1+decline"):
            bad("select_by", self.select_by, "use f1 or f1+decline")
        if not 0.0 <= self.dev_docs < 1.0:
            bad("dev_docs", self.dev_docs, "it must be a fraction in [0, 1) (0: no dev split)")
        if self.dev_split not in ("auto", "documents", "rows"):
            bad("dev_split", self.dev_split, "choose auto, documents or rows")
        lo, hi = self.distractors
        if lo < 0 or hi < lo:
            bad("distractors", self.distractors, "give MIN,MAX with 0 <= MIN <= MAX")
        if self.epochs <= 0 and self.max_steps <= 0:
            bad("epochs", self.epochs, "it must be > 0 unless max_steps is set")
        if self.adapter_dtype not in ("float32", "float16", "bfloat16"):
            bad("adapter_dtype", self.adapter_dtype, "choose float32, float16 or bfloat16")
        if self.precision not in PRECISIONS:
            bad("precision", self.precision, "choose fp32 (the default), bf16 or fp16")
        if self.decline_from not in ("same", "other"):
            bad("decline_from", self.decline_from, "choose same (declines where the topic is shown but not the answer) or other "
                "(declines only where nothing shown is about the question)")
        if self.init_adapter is not None and not (Path(self.init_adapter) / "adapter_config.json").exists():
            bad("init_adapter", self.init_adapter, "it must be a LoRA adapter folder holding adapter_config.json")
        if self.init_adapter is not None and not self.lora:
            bad("init_adapter", self.init_adapter, "continuing from an adapter trains LoRA weights: add --lora")
        if self.max_passage_words < 0:
            bad("max_passage_words", self.max_passage_words, "it must be >= 0 (0 keeps passages whole)")

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else (5e-4 if self.lora else 5e-5)


# ---------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    question: str
    passages: tuple[str, ...]
    target: str
    answerable: bool
    doc_id: str
    answers: tuple[str, ...] = ()
    id: str = ""


def build_examples(items: Sequence[Any], template: PromptTemplate, *, seed: int, distractors: tuple[int, int] = (1, 2),
                   unanswerable_rate: float = 0.15, max_passage_words: int = 80,
                   pool: dict[str, list[str]] | None = None, decline_from: str = "same") -> list[Example]:
    """Turn QA items into prompt/target examples as the pipeline will see them (see module doc).

    ``decline_from="same"``: an example whose gold passage is dropped shows other passages of the
    same document, so the model learns to decline where the topic is shown but the answer is not
    (and, as measured in issue 21, declines right answers it could give). ``"other"``: it shows
    passages of other documents only, so the model declines where nothing shown is about the
    question and answers whenever a shown passage holds the answer; answers that the passages do
    not hold are left to the guard. With ``"other"``, SQuAD v2 unanswerable questions are skipped
    (their paragraph is about the question; deciding them is the guard's job)."""
    from ..datasets.squad import context_pool, passages_for

    rng = random.Random(seed)
    pool = pool if pool is not None else context_pool(items)
    out = []
    for it in items:
        if decline_from == "other" and not it.answerable:
            continue
        k = rng.randint(distractors[0], distractors[1])
        drop = it.answerable and rng.random() < unanswerable_rate
        # an unanswerable question (SQuAD v2) keeps the paragraph it was written against: its decline
        # is learnt where the topic is present but the answer is not, as retrieval will show it
        if drop and decline_from == "other":
            passages, gold = _other_documents(it, pool, max(1, k + 1), rng), None
        else:
            passages, gold = passages_for(it, pool, k, rng, drop_gold=drop)
        if not it.answerable:
            gold = None
        shown = []
        for n, p in enumerate(passages, start=1):
            if max_passage_words and n == gold and it.answer_starts and it.answer_starts[0] >= 0:
                s = it.answer_starts[0]
                p = window_around(p, s, s + len(it.answers[0]), max_passage_words)
            elif max_passage_words:
                p = truncate_words(p, max_passage_words)
            shown.append(p)
        span = bool(it.answer_starts) and it.answer_starts[0] >= 0  # the answer is a span of its passage
        if span and gold is not None and not any(a in shown[gold - 1] for a in it.answers):
            gold = None  # the answer did not survive truncation: a decline example, honestly
        answer = it.answers[0] if (gold is not None and it.answers) else None
        out.append(Example(question=it.question, passages=tuple(shown), target=template.target(answer, gold),
                           answerable=answer is not None, doc_id=it.doc_id, answers=it.answers, id=it.id))
    return out


def _other_documents(item: Any, pool: dict[str, list[str]], n: int, rng: random.Random) -> list[str]:
    """``n`` passages of documents other than ``item``'s (nothing shown is about the question)."""
    others = sorted(d for d in pool if d != item.doc_id and pool[d])
    if not others:
        return [c for c in pool.get(item.doc_id, []) if c != item.context][:n]
    return [rng.choice(list(pool[d])) for d in rng.sample(others, min(n, len(others)))]


def split_by_document(items: Sequence[Any], dev_fraction: float, seed: int) -> tuple[list[Any], list[Any], list[str]]:
    """Split items into train/dev by document id (never by question); returns the dev doc ids too."""
    docs = sorted({it.doc_id for it in items})
    if len(docs) < 2:
        raise ConfigError(
            f"the data has {len(docs)} document(s); a dev split by document needs at least 2 "
            "(give JSONL rows a doc_id/title field, or more SQuAD articles)"
        )
    rng = random.Random(seed)
    n_dev = max(1, round(len(docs) * dev_fraction))
    dev_docs = sorted(rng.sample(docs, n_dev))
    dev_set = set(dev_docs)
    return [it for it in items if it.doc_id not in dev_set], [it for it in items if it.doc_id in dev_set], dev_docs


def split_dev(items: Sequence[Any], cfg: FinetuneConfig) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Train/dev items and how they were split (``{"by", "documents", "rows", "note"}``, for the card)."""
    n_docs = len({it.doc_id for it in items})
    if cfg.dev_docs == 0:
        return list(items), [], {"by": "none", "documents": [], "rows": 0,
                                 "note": "no dev split (dev_docs=0): no dev metrics and no early stopping; the model after the last step is kept"}
    by = cfg.dev_split if cfg.dev_split != "auto" else ("documents" if n_docs >= 2 else "rows")
    if by == "documents":
        train, dev, dev_docs = split_by_document(items, cfg.dev_docs, cfg.seed)
        return train, dev, {"by": "documents", "documents": dev_docs, "rows": len(dev), "note": ""}
    if len(items) < 2:
        return list(items), [], {"by": "none", "documents": [], "rows": 0,
                                 "note": f"no dev split: the data has {len(items)} question(s), too few to hold one out; "
                                         "no dev metrics and no early stopping"}
    rng = random.Random(cfg.seed)
    n_dev = min(len(items) - 1, max(1, round(len(items) * cfg.dev_docs)))
    dev_ids = set(rng.sample(range(len(items)), n_dev))
    why = f"the data has {n_docs} document" + ("s" if n_docs != 1 else "") if cfg.dev_split == "auto" else "dev_split=rows"
    return ([it for i, it in enumerate(items) if i not in dev_ids], [it for i, it in enumerate(items) if i in dev_ids],
            {"by": "rows", "documents": [], "rows": n_dev,
             "note": f"dev split by row ({why}): dev questions may share documents with training questions, so dev scores are optimistic"})


def encode_example(tokenizer: Any, template: PromptTemplate, ex: Example, *, max_length: int = 1024) -> dict[str, list[int]]:
    """Token ids and labels: -100 on the prompt, the target and end-of-turn tokens as labels."""
    prompt = template.render(tokenizer, ex.question, list(ex.passages))
    chat = bool(getattr(tokenizer, "chat_template", None))
    p_ids = tokenizer(prompt, add_special_tokens=not chat)["input_ids"]
    t_ids = tokenizer((" " if not chat else "") + ex.target, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is not None:
        t_ids = t_ids + [eos]
    if len(p_ids) + len(t_ids) > max_length:  # keep the end of the prompt (question, turn markers)
        p_ids = p_ids[-(max_length - len(t_ids)):]
    return {"input_ids": p_ids + t_ids, "labels": [-100] * len(p_ids) + t_ids}


class LeftPadCollator:
    """Pad a batch on the left (targets end every row at the same position), labels with -100."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        n = max(len(r["input_ids"]) for r in rows)
        ids = [[self.pad_id] * (n - len(r["input_ids"])) + r["input_ids"] for r in rows]
        att = [[0] * (n - len(r["input_ids"])) + [1] * len(r["input_ids"]) for r in rows]
        lab = [[-100] * (n - len(r["labels"])) + r["labels"] for r in rows]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(att), "labels": torch.tensor(lab)}


# ---------------------------------------------------------------- forgetting check

GENERAL_TEXT = (
    # The opening of the United States Declaration of Independence (1776), public domain.
    "When in the Course of human events, it becomes necessary for one people to dissolve the political "
    "bands which have connected them with another, and to assume among the powers of the earth, the "
    "separate and equal station to which the Laws of Nature and of Nature's God entitle them, a decent "
    "respect to the opinions of mankind requires that they should declare the causes which impel them "
    "to the separation. We hold these truths to be self-evident, that all men are created equal, that "
    "they are endowed by their Creator with certain unalienable Rights, that among these are Life, "
    "Liberty and the pursuit of Happiness. That to secure these rights, Governments are instituted "
    "among Men, deriving their just powers from the consent of the governed. "
    # Plain encyclopedic prose written for this check.
    "Water boils at one hundred degrees Celsius at sea level. Most plants need sunlight, water and "
    "carbon dioxide to grow, and they release oxygen into the air. The Moon orbits the Earth about once "
    "every twenty-seven days, and its gravity causes the tides of the oceans."
)
GENERAL_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is the capital of France?", ("paris",)),
    ("How many days are there in a week?", ("seven", "7")),
    ("What gas do plants release into the air?", ("oxygen",)),
    ("Who wrote the play Romeo and Juliet?", ("shakespeare",)),
    ("What is the largest planet in the solar system?", ("jupiter",)),
    ("What is the freezing point of water in degrees Celsius?", ("0", "zero")),
)


def perplexity(model: Any, tokenizer: Any, text: str = GENERAL_TEXT) -> float:
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=ids).loss
    return float(math.exp(loss.item()))


def general_answers(model: Any, tokenizer: Any, max_new_tokens: int = 24) -> list[dict[str, Any]]:
    """Answer the general questions with the plain chat template (no passages)."""
    import torch

    out = []
    for q, keys in GENERAL_QUESTIONS:
        if getattr(tokenizer, "chat_template", None):
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
            enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        else:
            enc = tokenizer(f"Question: {q}\nAnswer:", return_tensors="pt").to(model.device)
        with torch.inference_mode():
            seq = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                                 temperature=None, top_p=None, top_k=None)
        ans = tokenizer.decode(seq[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        out.append({"question": q, "answer": ans, "correct": any(k in ans.lower() for k in keys)})
    return out


def forgetting_check(model: Any, tokenizer: Any) -> dict[str, Any]:
    was_training = model.training
    model.eval()
    answers = general_answers(model, tokenizer)
    res = {"perplexity": round(perplexity(model, tokenizer), 3), "general_correct": sum(a["correct"] for a in answers),
           "general_total": len(answers), "general_answers": answers}
    if was_training:
        model.train()
    return res


# ---------------------------------------------------------------- dev evaluation


def dev_f1(model: Any, tokenizer: Any, template: PromptTemplate, examples: Sequence[Example], *, max_new_tokens: int = 32,
           batch_size: int = 8) -> dict[str, float]:
    """Generate on ``examples`` and score token F1 / EM (official SQuAD), citation and decline rates."""
    from ..datasets.squad import best_over
    from ..generate.hf import TransformersGenerator

    was_training = model.training
    model.eval()
    # dev questions read their passages whole, as the training examples do
    gen = TransformersGenerator.from_model(model, tokenizer, template=template, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                           context="chunks")
    outs = gen.generate_batch([e.question for e in examples], [list(e.passages) for e in examples])
    ems, f1s, decl_ok, cited = [], [], [], []
    for e, g in zip(examples, outs):
        if e.answerable:
            em, f = best_over(e.answers, g.answer, "1.1") if g.answer else (0.0, 0.0)
            ems.append(em)
            f1s.append(f)
            want = int(e.target.rsplit("[", 1)[1].rstrip("]")) if "[" in e.target else None
            cited.append(want in g.citations)
        else:
            decl_ok.append(g.declined)
    if was_training:
        model.train()
    pct = lambda xs: round(100.0 * sum(xs) / len(xs), 2) if xs else 0.0  # noqa: E731
    return {"f1": pct(f1s), "em": pct(ems), "citation_rate": pct(cited), "decline_rate": pct(decl_ok),
            "n_answerable": len(f1s), "n_unanswerable": len(decl_ok)}


# ---------------------------------------------------------------- the run


def _fingerprint(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FinetuneResult:
    out: str
    card: dict[str, Any] = field(default_factory=dict)


def finetune(cfg: FinetuneConfig, *, template: PromptTemplate | None = None, model: Any = None, tokenizer: Any = None,
             show_progress: bool = True, split: tuple[Sequence[Any], Sequence[Any]] | None = None,
             before: dict[str, Any] | None = None) -> FinetuneResult:
    """Run a fine-tuning job; see the module docstring. ``model``/``tokenizer`` skip loading ``base``
    (tests pass tiny in-memory models). ``split`` = (train items, dev items) replaces the split of
    ``cfg.data`` by document (``groundqa finetune --curve`` passes nested slices of its own split);
    ``before`` = {"forgetting": ..., "dev": ...} reuses the base model's checks from an earlier run
    with the same base and dev split instead of measuring them again.

    A non-finite loss or gradient stops the run with :class:`TrainingDivergedError` (naming the
    step, the likely cause and the last good checkpoint) before anything is written to ``cfg.out``
    as a model; the checkpoints are kept. ``cfg.precision`` picks fp32 (default) or bf16/fp16
    mixed precision (autocast over fp32 weights)."""
    import torch
    from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

    from ..datasets.squad import context_pool, load_squad

    t_start = time.time()
    if cfg.precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError("precision='fp16' needs a CUDA GPU (fp16 autocast with a gradient scaler); on the CPU use "
                          "--precision fp32 (the default) or bf16")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    template = template or PromptTemplate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"

    # data ---------------------------------------------------------------------------------------
    items = load_squad(cfg.data)
    if not items:
        raise ConfigError(f"data={cfg.data!r} holds no questions")
    pool = context_pool(items)
    lost = sum(1 for it in items if it.answers and not it.context)
    if lost:
        log.warning("%d question(s) of %s have an answer that is in none of their contexts: they train as declines "
                    "(export review data with `groundqa review export`, which writes the passage holding each answer)", lost, cfg.data)
    if split is None:
        train_items, dev_items, how = split_dev(items, cfg)
        dev_docs = how["documents"]
    else:  # the curve's nested slices of its own split by document
        train_items, dev_items = list(split[0]), list(split[1])
        dev_docs = sorted({it.doc_id for it in dev_items})
        how = {"by": "documents", "documents": dev_docs, "rows": len(dev_items),
               "note": "dev split given by the caller (groundqa finetune --curve: held-out documents shared by every point)"}
    rng = random.Random(cfg.seed)
    if cfg.max_examples is not None and cfg.max_examples < len(train_items):
        train_items = rng.sample(train_items, cfg.max_examples)
    train_ex = build_examples(train_items, template, seed=cfg.seed, distractors=cfg.distractors,
                              unanswerable_rate=cfg.unanswerable_rate, max_passage_words=cfg.max_passage_words, pool=pool,
                              decline_from=cfg.decline_from)
    dev_pick = random.Random(cfg.seed + 1).sample(dev_items, min(cfg.dev_sample, len(dev_items)))
    dev_rate = cfg.unanswerable_rate if cfg.dev_unanswerable_rate is None else cfg.dev_unanswerable_rate
    dev_ex = build_examples(dev_pick, template, seed=cfg.seed + 1, distractors=cfg.distractors,
                            unanswerable_rate=dev_rate, max_passage_words=cfg.max_passage_words, pool=pool,
                            decline_from=cfg.decline_from)

    # model --------------------------------------------------------------------------------------
    if model is None:
        from ..generate.loading import load_generator_model

        loaded = load_generator_model(cfg.base, device=None, dtype="float32")
        model, tokenizer = loaded.model, loaded.tokenizer
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if before is not None:
        forgetting_before, dev_before = before["forgetting"], before["dev"]
    else:
        forgetting_before = forgetting_check(model, tokenizer)
        dev_before = dev_f1(model, tokenizer, template, dev_ex, max_new_tokens=cfg.max_new_tokens) if dev_ex else None
    log.info("before training: dev %s, perplexity %.2f", dev_before, forgetting_before["perplexity"])
    if cfg.lora and cfg.init_adapter:  # continue from an adapter: its own r, alpha and targets
        from ..generate.loading import _apply_adapter

        model = _apply_adapter(model, Path(cfg.init_adapter))
        for name, param in model.named_parameters():
            param.requires_grad = "lora_" in name
        if not any(p.requires_grad for p in model.parameters()):
            raise ConfigError(f"init_adapter={cfg.init_adapter!r} holds no LoRA weights to train")
    elif cfg.lora:
        from peft import LoraConfig, get_peft_model

        present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = [t for t in cfg.lora_targets if t in present]
        if not targets:
            raise ConfigError(f"lora_targets={list(cfg.lora_targets)} match no layer of {cfg.base!r}; name its linear layers")
        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                                 target_modules=targets, task_type="CAUSAL_LM"))
    model.train()

    encoded = [encode_example(tokenizer, template, e) for e in train_ex]

    dev_encoded = [encode_example(tokenizer, template, e) for e in dev_ex]

    class _DevF1Trainer(Trainer):
        """Trainer whose evaluation generates on the dev sample and reports token F1 (for early
        stopping), and whose loss computes logits only at target positions (left padding puts every
        target at the end of its row), which saves the vocabulary projection over the prompt."""

        compute_dtype: str | None = None  # the output layer's dtype in the first training step (autocast shows here)

        def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            loss = super().training_step(model, inputs, num_items_in_batch)
            if not bool(torch.isfinite(loss).all()):  # before the optimizer step: the weights are still good
                _diverged(self.state.global_step + 1, "loss", float(loss.float().mean()))
            return loss

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            labels = inputs["labels"]
            first = int((labels != -100).float().argmax(dim=1).min().item()) if (labels != -100).any() else labels.shape[1] - 1
            keep = labels.shape[1] - max(0, first - 1)
            hook, seen = None, []
            if model.training and _DevF1Trainer.compute_dtype is None:  # the dtype the output layer computes in
                head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
                if head is not None:  # (accelerate hands the logits back as fp32, so they do not show autocast)
                    hook = head.register_forward_hook(lambda m, a, o: seen.append(str(o.dtype).replace("torch.", "")))
            try:
                outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], logits_to_keep=keep)
            finally:
                if hook is not None:
                    hook.remove()
            if seen:
                _DevF1Trainer.compute_dtype = seen[0]
            logits = outputs.logits[:, :-1, :].float()
            target = labels[:, labels.shape[1] - keep + 1 :]
            loss_sum = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                         ignore_index=-100, reduction="sum")
            denom = num_items_in_batch if num_items_in_batch is not None else (target != -100).sum()
            loss = loss_sum / denom
            return (loss, outputs) if return_outputs else loss

        def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval") -> dict[str, float]:
            metrics = dev_f1(self.model, tokenizer, template, dev_ex, max_new_tokens=cfg.max_new_tokens)
            # the checkpoint kept: dev F1 alone, or its mean with the dev decline rate (an adapter that
            # answers must still decline when nothing shown is about the question)
            metrics["select"] = metrics["f1"] if cfg.select_by == "f1" else round((metrics["f1"] + metrics["decline_rate"]) / 2, 2)
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in metrics.items()}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    def _last_checkpoint() -> Path | None:
        ckpts = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]) if p.name.rsplit("-", 1)[1].isdigit() else -1)
        return ckpts[-1] if ckpts else None

    def _diverged(step: int, what: str, value: float) -> None:
        last = _last_checkpoint()
        where = (f"the last good checkpoint is {last} (written before step {step}; rerunning the same command resumes "
                 "from it, --no-resume starts over)") if last else \
            f"no checkpoint was written before step {step} (checkpoints are written every --eval-steps={cfg.eval_steps} steps)"
        if cfg.precision == "fp32":
            cause = (f"in fp32 this is most often a learning rate too high for the batch (lr {cfg.lr}, "
                     f"{cfg.batch_size}x{cfg.grad_accum} examples per step)")
            fix = "lower --lr (halve it) or raise --batch-size/--grad-accum, then rerun with --no-resume"
        else:
            rng_note = "fp16 overflows above 65504" if cfg.precision == "fp16" else "bf16 keeps 8 bits of mantissa"
            cause = (f"{cfg.precision} mixed precision ({rng_note}) under autocast: attention and logits lose precision "
                     f"and overflow where fp32 does not (lr {cfg.lr})")
            fix = "rerun with --precision fp32 (the default), or lower --lr"
        raise TrainingDivergedError(
            f"training stopped at optimizer step {step} of {n_steps}: the {what} is {value} (not finite). Likely cause: "
            f"{cause}. Fix: {fix}. Nothing was written to {out} as a model or adapter; {where}.",
            step=step, what=what, checkpoint=str(last) if last else None)

    class _NonFiniteGuard(TrainerCallback):
        """Stops the run when a gradient is not finite, before the optimizer applies it."""

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> Any:
            grads = [p.grad for p in (model.parameters() if model is not None else ()) if p.grad is not None]
            if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
                bad = sum(int(not torch.isfinite(g).all()) for g in grads)
                _diverged(state.global_step + 1, f"gradient of {bad} of {len(grads)} trained tensors", float("nan"))
            return control

    class _TimeBudget(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if cfg.time_budget_min is not None and time.time() - t_start > cfg.time_budget_min * 60:
                log.warning("time budget of %.1f min reached at step %d; stopping", cfg.time_budget_min, state.global_step)
                control.should_training_stop = True
                control.should_evaluate = bool(dev_ex)
                control.should_save = True
            return control

    n_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(len(encoded) / (cfg.batch_size * cfg.grad_accum) * cfg.epochs)
    args = TrainingArguments(
        output_dir=str(ckpt_dir), per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, warmup_steps=int(cfg.warmup_ratio * n_steps),
        lr_scheduler_type="linear", weight_decay=cfg.weight_decay, logging_steps=5, eval_strategy="steps" if dev_ex else "no",
        eval_steps=cfg.eval_steps, save_strategy="steps", save_steps=cfg.eval_steps, save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=bool(dev_ex), metric_for_best_model="eval_select" if dev_ex else None, greater_is_better=True, report_to=[],
        seed=cfg.seed, data_seed=cfg.seed, remove_unused_columns=False, disable_tqdm=not show_progress,
        use_cpu=not torch.cuda.is_available(), bf16=cfg.precision == "bf16", fp16=cfg.precision == "fp16",
        dataloader_num_workers=0, save_only_model=False,
        logging_nan_inf_filter=False,  # the default logs a NaN loss as the window's average (0 after a reset)
    )
    trainer = _DevF1Trainer(model=model, args=args, train_dataset=Rows(encoded), eval_dataset=Rows(dev_encoded), data_collator=LeftPadCollator(tokenizer.pad_token_id),
                            callbacks=([EarlyStoppingCallback(early_stopping_patience=cfg.patience)] if dev_ex else []) + [_TimeBudget(), _NonFiniteGuard()])
    resume = None
    if cfg.resume and ckpt_dir.exists() and any(ckpt_dir.glob("checkpoint-*")):
        resume = True
        log.info("resuming from the last checkpoint in %s", ckpt_dir)
    t_train = time.time()
    train_out = trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.time() - t_train
    best = trainer.state.best_metric
    final_dev = dev_f1(trainer.model, tokenizer, template, dev_ex, max_new_tokens=cfg.max_new_tokens) if dev_ex else None

    # save ---------------------------------------------------------------------------------------
    model = trainer.model
    model.eval()
    bad = [n for n, p in model.named_parameters() if p.requires_grad and not bool(torch.isfinite(p).all())]
    if bad:  # the guard stops such runs earlier; this keeps a model loaded from a bad checkpoint from being written
        _diverged(trainer.state.global_step, f"weight {bad[0]} (and {len(bad) - 1} more)", float("nan"))
    if cfg.lora:
        model.save_pretrained(out, safe_serialization=True)
        _cast_adapter(out, cfg.adapter_dtype)
        eval_model = model  # "before" was measured on the bare base above; LoRA leaves it unchanged
    else:
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        eval_model = model
    forgetting_after = forgetting_check(eval_model, tokenizer)
    history = [h for h in trainer.state.log_history if any(k.startswith("eval_") for k in h)]
    card = {
        "groundqa_card": 1,
        "base": cfg.base,
        "method": "lora" if cfg.lora else "full",
        "command": cfg.command or " ".join(sys.argv),
        "data": {"path": os.path.abspath(cfg.data), "sha256": _fingerprint(cfg.data), "questions": len(items),
                 "documents": len(pool), "train_examples": len(train_ex),
                 "train_unanswerable": sum(not e.answerable for e in train_ex), "answers_in_no_context": lost,
                 "dev_split": how["by"], "dev_note": how["note"], "dev_documents": dev_docs, "dev_sample": len(dev_ex)},
        "hyperparameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()
                            if k not in ("data", "out", "base", "command")} | {"learning_rate": cfg.lr, "warmup_steps": args.warmup_steps},
        "template": template.to_dict(),
        "dev": {"before": dev_before, "after": final_dev, "best_f1": best, "history": history},
        "training": {"seconds": round(train_seconds, 1), "steps": trainer.state.global_step,
                     "examples_seen": trainer.state.global_step * cfg.batch_size * cfg.grad_accum,
                     "train_loss": round(float(train_out.training_loss), 4), "threads": torch.get_num_threads(),
                     "device": str(next(model.parameters()).device), "stopped_early": trainer.state.global_step < n_steps,
                     "precision": cfg.precision, "compute_dtype": _DevF1Trainer.compute_dtype,
                     "planned_steps": n_steps},
        "forgetting": {"before": forgetting_before, "after": forgetting_after,
                       "perplexity_change": round(forgetting_after["perplexity"] - forgetting_before["perplexity"], 3)},
    }
    (out / "groundqa_card.json").write_text(json.dumps(card, indent=1))
    (out / "README.md").write_text(render_card(card))
    shutil.rmtree(ckpt_dir, ignore_errors=True) if os.environ.get("GROUNDQA_KEEP_CHECKPOINTS") != "1" else None
    return FinetuneResult(out=str(out), card=card)


def scale_adapter(src: str | os.PathLike[str], dst: str | os.PathLike[str], scale: float, *, note: str = "",
                  check_forgetting: bool = True) -> dict[str, Any]:
    """Write a copy of the LoRA adapter ``src`` whose update is multiplied by ``scale`` (0 < scale <= 1).

    The delta of a LoRA adapter is ``(lora_alpha / r) * B @ A``; scaling ``lora_alpha`` interpolates
    between the base model (0) and the trained adapter (1), a weight-space interpolation known to
    trade a little task accuracy for much less forgetting. Pick ``scale`` on dev data (``note`` says
    how it was picked). The copy's card records the scale and a fresh forgetting check. A probe
    of the source's hidden state (``groundqa_probe.json``) is not copied: fit one for the copy.
    """
    src, dst = Path(src), Path(dst)
    cfg_path = src / "adapter_config.json"
    if not cfg_path.exists():
        raise ConfigError(f"{src} is not a LoRA adapter folder (no adapter_config.json); pass a folder written by `groundqa finetune --lora`")
    if not 0 < scale <= 1:
        raise ConfigError(f"scale={scale!r} must be in (0, 1]: 1 keeps the adapter, smaller values move toward the base model")
    if dst.resolve() == src.resolve():
        raise ConfigError(f"--out {dst} is the adapter itself; write the scaled copy to a new folder")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise ConfigError(f"--out {dst} exists and is not empty; choose a new folder (nothing was overwritten)")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("use_rslora") or cfg.get("alpha_pattern") or cfg.get("rank_pattern"):
        raise ConfigError(f"{src} uses rsLoRA or per-module alpha/rank patterns; scale_adapter handles plain LoRA only")
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    from ..generate.probe import PROBE_FILE

    # a hidden-state probe belongs to the weights it was fitted on: the scaled copy has other weights
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("checkpoints", PROBE_FILE))
    trained_alpha = cfg["lora_alpha"]
    cfg["lora_alpha"] = trained_alpha * scale
    (tmp / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
    card_path = tmp / "groundqa_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    prev = card.get("scaled", {}).get("scale", 1.0)
    card["scaled"] = {"scale": round(prev * scale, 6), "from": src.name, "trained_lora_alpha": card.get("scaled", {}).get("trained_lora_alpha", trained_alpha),
                      "lora_alpha": cfg["lora_alpha"], "note": note}
    if check_forgetting and card.get("forgetting"):
        from ..generate.loading import load_generator_model

        loaded = load_generator_model(card.get("base") or cfg.get("base_model_name_or_path", ""), adapter=str(tmp))
        card["scaled"]["forgetting_after"] = forgetting_check(loaded.model, loaded.tokenizer)
        before = card["forgetting"]["before"]["perplexity"]
        card["scaled"]["perplexity_change"] = round(card["scaled"]["forgetting_after"]["perplexity"] - before, 3)
    if card:
        card_path.write_text(json.dumps(card, indent=1))
        (tmp / "README.md").write_text(render_card(card))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return card


def _cast_adapter(folder: Path, dtype: str) -> None:
    """Store the adapter's weights in ``dtype`` (half the size of float32; loads into any dtype)."""
    if dtype == "float32":
        return
    import torch
    from safetensors.torch import load_file, save_file

    f = folder / "adapter_model.safetensors"
    tensors = load_file(str(f))
    tdt = {"float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    save_file({k: v.to(tdt).contiguous() for k, v in tensors.items()}, str(f), metadata={"format": "pt"})


def render_card(card: dict[str, Any]) -> str:
    d, f, t = card["dev"], card["forgetting"], card["training"]
    lines = [
        f"# groundqa generator: {card['base']} fine-tuned ({card['method']})",
        "",
        "Made by:",
        "",
        f"    {card['command']}",
        "",
        "| | before | after |",
        "|---|---|---|",
    ]
    if d["before"] is not None and d["after"] is not None:
        lines += [
            f"| dev token F1 (generated, {card['data']['dev_sample']} questions) | {d['before']['f1']} | {d['after']['f1']} |",
            f"| dev exact match | {d['before']['em']} | {d['after']['em']} |",
            f"| dev decline rate (unanswerable) | {d['before']['decline_rate']} | {d['after']['decline_rate']} |",
            f"| dev gold-citation rate | {d['before']['citation_rate']} | {d['after']['citation_rate']} |",
        ]
    lines += [
        f"| perplexity, fixed general text | {f['before']['perplexity']} | {f['after']['perplexity']} |",
        f"| general questions right | {f['before']['general_correct']}/{f['before']['general_total']} | "
        f"{f['after']['general_correct']}/{f['after']['general_total']} |",
        "",
        f"Data: `{card['data']['path']}` (sha256 {card['data']['sha256'][:16]}...), {card['data']['questions']} questions "
        f"in {card['data']['documents']} documents; {card['data']['train_examples']} training examples "
        f"({card['data']['train_unanswerable']} unanswerable); "
        + (f"dev documents: {', '.join(card['data']['dev_documents'])}." if card["data"].get("dev_split", "documents") == "documents"
           else f"{card['data']['dev_note']}."),
        "",
        f"Training: {t['steps']} optimizer steps ({t['examples_seen']} examples), {t['seconds']} s on {t['device']} "
        f"with {t['threads']} thread(s); final train loss {t['train_loss']}.",
        "",
        f"Precision: {t.get('precision', 'fp32')} (logits computed in {t.get('compute_dtype') or 'float32'}). fp32 is the default; "
        "bf16/fp16 mixed precision is opt-in (`--precision`) until bf16 is shown not to diverge on a GPU (issue 23), and "
        "any run whose loss or gradient stops being finite is stopped before a model is written.",
        "",
        "Hyper-parameters: " + ", ".join(f"{k}={v}" for k, v in card["hyperparameters"].items()),
        "",
    ]
    sc = card.get("scaled")
    if sc:
        fa = sc.get("forgetting_after", {})
        lines += [
            f"Scaled after training: the adapter's update is multiplied by {sc['scale']} (lora_alpha "
            f"{sc['trained_lora_alpha']} -> {sc['lora_alpha']}). {sc.get('note', '')}".rstrip(),
            "",
        ]
        if fa:
            lines += [f"With the scale: perplexity on the general text {f['before']['perplexity']} -> {fa['perplexity']}, "
                      f"general questions right {fa['general_correct']}/{fa['general_total']} "
                      "(the table above is the unscaled adapter).", ""]
    lines += [
        "General questions (before -> after):",
        "",
    ]
    for b, a in zip(f["before"]["general_answers"], f["after"]["general_answers"]):
        lines.append(f"- {b['question']} {b['answer']!r} -> {a['answer']!r}")
    return "\n".join(lines) + "\n"
