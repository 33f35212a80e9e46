"""recipes/adapter_soup.py (issue 21): two LoRA adapters mixed into one, exactly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


def _recipe():
    spec = importlib.util.spec_from_file_location("adapter_soup", ROOT / "recipes" / "adapter_soup.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _adapter(seed: int, r: int = 4) -> dict:
    g = torch.Generator().manual_seed(seed)
    key = "base_model.model.layers.0.self_attn.q_proj"
    return {f"{key}.lora_A.weight": torch.randn(r, 16, generator=g), f"{key}.lora_B.weight": torch.randn(8, r, generator=g)}


def test_the_mix_is_the_weighted_sum_of_the_two_updates():
    mod = _recipe()
    cfg = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    s1, s2 = _adapter(0), _adapter(1)
    mixed, out = mod.mix(s1, cfg, s2, dict(cfg, target_modules=["v_proj", "q_proj"]), 0.35)
    assert out["r"] == 8 and out["lora_alpha"] / out["r"] == cfg["lora_alpha"] / cfg["r"]  # the scale is kept
    a, b = (k for k in sorted(s1))
    want = 0.35 * s1[b] @ s1[a] + 0.65 * s2[b] @ s2[a]
    assert torch.allclose(mixed[b] @ mixed[a], want, atol=1e-5)


def test_adapters_of_different_recipes_are_refused_with_the_reason():
    mod = _recipe()
    cfg = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}
    with pytest.raises(SystemExit, match="scale differently"):
        mod.mix(_adapter(0), cfg, _adapter(1), dict(cfg, lora_alpha=16), 0.5)
    with pytest.raises(SystemExit, match="differ in target_modules"):
        mod.mix(_adapter(0), cfg, _adapter(1), dict(cfg, target_modules=["k_proj"]), 0.5)


def test_the_recipe_writes_a_shipped_style_folder(tmp_path):
    from safetensors.torch import save_file

    mod = _recipe()
    for name, seed in (("one", 0), ("two", 1)):
        d = tmp_path / name
        d.mkdir()
        save_file(_adapter(seed), str(d / "adapter_model.safetensors"))
        (d / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}))
    import sys

    argv = sys.argv
    sys.argv = ["adapter_soup.py", "--stage1", str(tmp_path / "one"), "--stage2", str(tmp_path / "two"), "--a", "0.5", "--out", str(tmp_path / "mix")]
    try:
        assert mod.main() == 0
    finally:
        sys.argv = argv
    out = tmp_path / "mix"
    assert (out / "adapter_model.int8.safetensors").exists() and json.loads((out / "adapter_config.json").read_text())["r"] == 8
    card = json.loads((out / "groundqa_card.json").read_text())
    assert card["mixed"]["a_stage1"] == 0.5 and card["hyperparameters"]["lora_r"] == 8
    tensors, _ = mod.load_adapter(out)  # read back as float32 through the int8 store
    assert set(tensors) == set(_adapter(0))
