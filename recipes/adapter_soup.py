"""Mix two LoRA adapters of the same base into one (issue 21, "an adapter that answers").

Stage 1 of the adapter recipe (``recipes/generator_answers_train.sh``) answers whenever a shown
passage holds the answer, but hardly declines when nothing shown is relevant; stage 2 (the same
recipe continued with a quarter of the examples shown only other articles' passages) declines
those, but answers less well. Their weighted sum is one adapter:

    delta W = a * B1 A1 + (1 - a) * B2 A2 = [a B1, (1 - a) B2] [A1; A2]

exactly, as a LoRA adapter of rank r1 + r2 (``lora_alpha`` scaled so that alpha / r is kept).
No training: a few seconds. ``a`` is chosen on the adapter's dev articles, never on held-out ones
(``benchmarks/generator_answers_eval.py --articles dev``). The weights are written as the shipped
adapters are (``adapter_model.int8.safetensors``, int8 with a scale per row), and the evaluation
reads that same file.

    python recipes/adapter_soup.py --stage1 src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora \
        --stage2 runs/qwen05-declines/checkpoints/checkpoint-8 --a 0.35 --out runs/qwen05-soup35
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def load_adapter(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(float32 tensors, adapter_config) of a LoRA folder in PEFT's format or the shipped int8 one."""
    import torch
    from safetensors.torch import load_file

    from groundqa.int8store import load_int8

    cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    if (folder / "adapter_model.int8.safetensors").exists():
        return load_int8(folder / "adapter_model.int8.safetensors", dtype=torch.float32), cfg
    if (folder / "adapter_model.safetensors").exists():
        return {k: v.float() for k, v in load_file(str(folder / "adapter_model.safetensors")).items()}, cfg
    raise SystemExit(f"{folder} holds no adapter_model.safetensors or adapter_model.int8.safetensors; pass a LoRA adapter folder")


def mix(s1: dict[str, Any], c1: dict[str, Any], s2: dict[str, Any], c2: dict[str, Any], a: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and config of the adapter whose update is a * stage 1's + (1 - a) * stage 2's."""
    import torch

    if set(s1) != set(s2):
        raise SystemExit(f"the adapters adapt different modules ({sorted(set(s1) ^ set(s2))[:3]} ...); mix adapters of one recipe")
    for k in ("target_modules", "use_rslora"):
        v1, v2 = c1.get(k), c2.get(k)
        if (sorted(v1) if isinstance(v1, list) else v1) != (sorted(v2) if isinstance(v2, list) else v2):
            raise SystemExit(f"the adapters differ in {k} ({c1.get(k)!r} against {c2.get(k)!r}); mix adapters of one recipe")
    sc1, sc2 = c1["lora_alpha"] / c1["r"], c2["lora_alpha"] / c2["r"]
    if c1.get("use_rslora") or abs(sc1 - sc2) > 1e-9:
        raise SystemExit(f"the adapters scale differently (alpha / r = {sc1} and {sc2}); this mix keeps one scale")
    out = {}
    for k in s1:
        if "lora_A" in k:
            out[k] = torch.cat([s1[k], s2[k]], 0)
        elif "lora_B" in k:
            out[k] = torch.cat([a * s1[k], (1 - a) * s2[k]], 1)
        else:
            raise SystemExit(f"unexpected tensor {k}: only LoRA A and B matrices can be mixed")
    cfg = dict(c1)
    cfg["r"] = c1["r"] + c2["r"]
    cfg["lora_alpha"] = sc1 * cfg["r"]
    return out, cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage1", required=True)
    ap.add_argument("--stage2", required=True)
    ap.add_argument("--a", type=float, required=True, help="weight of stage 1 (0..1)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if not 0.0 <= args.a <= 1.0:
        raise SystemExit(f"--a {args.a} is not a weight; give a number from 0 to 1")

    from groundqa.int8store import save_int8

    s1, c1 = load_adapter(Path(args.stage1))
    s2, c2 = load_adapter(Path(args.stage2))
    tensors, cfg = mix(s1, c1, s2, c2, args.a)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_int8(tensors, out / "adapter_model.int8.safetensors")
    (out / "adapter_config.json").write_text(json.dumps(cfg, indent=1) + "\n", encoding="utf-8")
    card_src = Path(args.stage1) / "groundqa_card.json"
    card = json.loads(card_src.read_text(encoding="utf-8")) if card_src.exists() else {"groundqa_card": 1}
    hp = card.setdefault("hyperparameters", {})
    hp["lora_r_stages"] = [c1["r"], c2["r"]]
    hp["lora_r"], hp["lora_alpha"] = cfg["r"], cfg["lora_alpha"]  # the mixed adapter's own shape
    card["mixed"] = {"a_stage1": args.a, "stage1": args.stage1, "stage2": args.stage2, "rank": cfg["r"],
                     "command": "python " + " ".join(sys.argv),
                     "rule": "delta W = a * stage 1's + (1 - a) * stage 2's, exactly, as one LoRA of rank r1 + r2"}
    (out / "groundqa_card.json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: rank {cfg['r']}, {len(tensors)} tensors, a = {args.a}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
