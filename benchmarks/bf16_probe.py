"""Where does bf16 fine-tuning go non-finite? (issue 23; for a GPU session, runs on the CPU too).

Builds one left-padded batch exactly as `groundqa finetune` does, wraps the base model in the same
LoRA, and runs ``--steps`` AdamW steps on that batch twice: in fp32 and under bf16 autocast over
fp32 weights (what `--precision bf16` does). Every step prints the loss, the gradient norm and, the
first time anything is non-finite, the first module (in forward order) whose output is not finite,
or the first parameter whose gradient is not. It also counts the fully masked attention rows of
the batch (left padding: a pad query may attend to no key) and prints the attention
implementation, so each candidate of the issue can be ruled in or out:
  - fully masked rows under SDPA: a non-finite output first in a self_attn module, at pad rows;
  - the sliced loss: finite forward everywhere but a non-finite loss;
  - autocast over fp32 weights: growing gradient norm then overflow in bf16 but not in fp32.

    python benchmarks/bf16_probe.py --data runs/squad_split/train_qwen05.json --base qwen2.5-coder-0.5b \\
        --batch-size 16 --lr 2e-4 --steps 30 [--device cuda] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--base", default="qwen2.5-coder-0.5b")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--device", default=None)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--max-passage-words", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model

    from groundqa.bench.squad import context_pool, load_squad
    from groundqa.generate.finetune import LORA_TARGETS, LeftPadCollator, build_examples, encode_example
    from groundqa.generate.loading import load_generator_model, pick_device
    from groundqa.generate.prompts import PromptTemplate

    dev = pick_device(a.device)
    items = load_squad(a.data)
    pick = random.Random(a.seed).sample(items, a.batch_size)
    template = PromptTemplate()
    ex = build_examples(pick, template, seed=a.seed, pool=context_pool(items), max_passage_words=a.max_passage_words)
    report: dict = {"device": dev, "torch": torch.__version__, "runs": {}}
    for prec in a.precisions.split(","):
        torch.manual_seed(a.seed)
        loaded = load_generator_model(a.base, device=dev, dtype="float32")
        tok = loaded.tokenizer
        batch = LeftPadCollator(tok.pad_token_id)([encode_example(tok, template, e) for e in ex])
        batch = {k: v.to(dev) for k, v in batch.items()}
        model = get_peft_model(loaded.model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=list(LORA_TARGETS),
                                                        task_type="CAUSAL_LM"))
        model.train()
        att = batch["attention_mask"]
        report["padded_rows"] = int((att == 0).any(dim=1).sum())
        report["pad_positions"] = int((att == 0).sum())
        report["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
        names = {m: n for n, m in model.named_modules()}
        first_bad: list[str] = []

        def hook(m, args, out):
            t = out[0] if isinstance(out, tuple) else getattr(out, "logits", out)
            if not first_bad and torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad_rows = (~torch.isfinite(t)).flatten(2).any(-1) if t.dim() >= 3 else None
                pad_only = bool((bad_rows & (att == 0)[:, : bad_rows.shape[1]]).sum() == bad_rows.sum()) if bad_rows is not None and bad_rows.shape == att.shape else None
                first_bad.append(f"{names.get(m, '?')} ({t.dtype}; non-finite at pad positions only: {pad_only})")

        hooks = [m.register_forward_hook(hook) for m in model.modules()]
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr)
        labels = batch["labels"]
        first = int((labels != -100).float().argmax(dim=1).min())
        keep = labels.shape[1] - max(0, first - 1)
        steps = []
        t0 = time.time()
        for step in range(1, a.steps + 1):
            ctx = torch.autocast(device_type=dev.split(":")[0], dtype=torch.bfloat16) if prec == "bf16" else torch.autocast(device_type=dev.split(":")[0], enabled=False)
            with ctx:
                out = model(input_ids=batch["input_ids"], attention_mask=att, logits_to_keep=keep)
            logits = out.logits[:, :-1, :].float()
            target = labels[:, labels.shape[1] - keep + 1:]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            grads = [(n, p.grad) for n, p in model.named_parameters() if p.grad is not None]
            gnorm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for _, g in grads])))
            bad_grad = next((n for n, g in grads if not bool(torch.isfinite(g).all())), None)
            rec = {"step": step, "loss": float(loss), "grad_norm": gnorm, "first_non_finite_module": first_bad[0] if first_bad else None,
                   "first_non_finite_grad": bad_grad, "logits_max": float(out.logits.detach().abs().max())}
            steps.append(rec)
            print(prec, json.dumps(rec), flush=True)
            if not math.isfinite(rec["loss"]) or not math.isfinite(gnorm):
                break
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        for h in hooks:
            h.remove()
        report["runs"][prec] = {"steps": steps, "seconds": round(time.time() - t0, 1),
                                "diverged_at": next((s["step"] for s in steps if not math.isfinite(s["loss"]) or not math.isfinite(s["grad_norm"])), None)}
        del model, loaded, opt
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))
    for prec, r in report["runs"].items():
        print(f"{prec}: diverged at step {r['diverged_at']}; last loss {r['steps'][-1]['loss']:.4f}; {r['seconds']} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
