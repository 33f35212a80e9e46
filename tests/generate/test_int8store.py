"""int8 storage of shipped weights (issue 23): bounded rounding, and adapters / classifiers that load
from it as float32 and compute what the float16 originals compute, within that bound."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from groundqa.int8store import convert_file, dequantize_tensors, load_int8, quantize_tensors  # noqa: E402


def test_round_trip_error_is_at_most_half_a_step_per_row():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 300, generator=g) * torch.logspace(-3, 1, 64).unsqueeze(1)  # rows of very different scale
    tall = torch.randn(500, 16, generator=g)  # a LoRA B factor: one scale per column
    small = torch.randn(10, generator=g)
    q = quantize_tensors({"w": w, "tall": tall, "bias": small, "ids": torch.arange(3)})
    assert q["w.int8"].dtype == torch.int8 and q["w.scale"].shape == (64, 1) and q["tall.scale"].shape == (1, 16)
    assert q["bias"].dtype == torch.float16 and q["ids"].dtype == torch.int64
    back = dequantize_tensors(q)
    assert set(back) == {"w", "tall", "bias", "ids"} and back["w"].dtype == torch.float32
    step = w.abs().amax(dim=1, keepdim=True) / 127
    assert ((back["w"] - w).abs() <= step / 2 + 1e-7).all()
    assert ((back["tall"] - tall).abs() <= tall.abs().amax(dim=0, keepdim=True) / 254 + 1e-7).all()


def test_not_an_int8_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    from groundqa.errors import ModelNotFoundError

    save_file({"w": torch.zeros(2, 2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ModelNotFoundError, match="convert_file"):
        load_int8(tmp_path / "x.safetensors")


def test_int8_adapter_loads_and_matches_the_original(tmp_path, tiny_dir):
    import shutil

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from groundqa.generate.loading import load_generator_model

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    orig = tmp_path / "orig"
    model.save_pretrained(orig)
    quant = tmp_path / "quant"
    shutil.copytree(orig, quant)
    convert_file(quant / "adapter_model.safetensors", remove=True)
    assert not (quant / "adapter_model.safetensors").exists()
    a = load_generator_model(str(tiny_dir), adapter=str(orig), device="cpu").model
    b = load_generator_model(str(tiny_dir), adapter=str(quant), device="cpu").model
    base = AutoModelForCausalLM.from_pretrained(tiny_dir).state_dict()
    sa, sb = a.state_dict(), b.state_dict()
    key = next(k for k in sa if k.endswith("q_proj.weight"))
    delta = sa[key] - base[key]
    assert delta.abs().max() > 0.05  # the adapter changes the weights
    assert (sb[key] - sa[key]).abs().max() <= 0.02 * delta.abs().max()  # and int8 reproduces the change closely
    ids = torch.tensor([[1, 5, 9, 12, 30, 7]])
    with torch.no_grad():
        la, lb = a(input_ids=ids).logits, b(input_ids=ids).logits
    assert (la - lb).abs().max() <= 0.02 * la.abs().max()


def test_int8_classifier_folder_loads(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    from groundqa.verify.scorers import _load_classifier

    cfg = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=2)
    torch.manual_seed(0)
    m = BertForSequenceClassification(cfg).eval()
    m.save_pretrained(tmp_path, safe_serialization=True)
    convert_file(tmp_path / "model.safetensors", remove=True)
    q = _load_classifier(str(tmp_path)).eval()
    ids = torch.tensor([[2, 17, 33, 5, 3]])
    with torch.no_grad():
        pa, pb = m(input_ids=ids).logits.softmax(-1), q(input_ids=ids).logits.softmax(-1)
    assert next(q.parameters()).dtype == torch.float32 and (pa - pb).abs().max() < 0.01
