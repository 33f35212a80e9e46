"""The transformers generator on a tiny random-weight model: batching, stop strings, streaming."""

from __future__ import annotations

import sys

import pytest

from groundqa.errors import ConfigError, ModelNotFoundError
from groundqa.generate import Generation, Generator, TransformersGenerator
from groundqa.types import Chunk, Passage

PASSAGES = ["Paris is the capital of France.", "Denver Broncos defeated the Carolina Panthers."]


def test_import_loads_no_torch():
    import subprocess

    code = "import sys, groundqa.generate, groundqa.datasets.squad; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_protocol_and_typed_result(tiny_gen):
    assert isinstance(tiny_gen, Generator)
    g = tiny_gen.generate("Who won?", PASSAGES)
    assert isinstance(g, Generation)
    assert g.tokens > 0 and g.prompt_tokens > 20 and g.seconds > 0
    assert g.finish_reason in ("stop", "length")
    assert all(1 <= c <= 2 for c in g.citations)


def test_prompt_uses_chat_template_and_numbers_passages(tiny_gen):
    p = tiny_gen.prompt("Who won?", [Passage(Chunk("c1", "d", PASSAGES[0], 0, 31), 1.0, 1), PASSAGES[1]])
    assert p.startswith("<|im_start|>system") and p.endswith("<|im_start|>assistant\n")
    assert "[1] Paris is the capital" in p and "[2] Denver Broncos" in p


def test_batch_with_left_padding_equals_one_by_one(tiny_gen):
    qs = ["Who won?", "What is the capital of France and why is it so large today?", "Where?"]
    ps = [PASSAGES, PASSAGES[:1], PASSAGES[1:]]
    batched = tiny_gen.generate_batch(qs, ps)
    single = [tiny_gen.generate(q, p) for q, p in zip(qs, ps)]
    assert [b.text for b in batched] == [s.text for s in single]
    assert len({b.prompt_tokens for b in batched}) == 3  # different lengths really were padded


def test_stop_string_cuts_and_stops_early(tiny_gen):
    full = tiny_gen.generate("Who won?", PASSAGES, max_new_tokens=12, stop=())
    assert len(full.text) > 6, full.text
    stop = full.text[3:6]
    cut = tiny_gen.generate("Who won?", PASSAGES, max_new_tokens=12, stop=(stop,))
    assert stop not in cut.text
    assert full.text.startswith(cut.text)
    assert cut.tokens < full.tokens and cut.finish_reason == "stop"


def test_stream_yields_the_same_text(tiny_gen):
    full = tiny_gen.generate("Who won?", PASSAGES, stop=())
    pieces = list(tiny_gen.stream("Who won?", PASSAGES, stop=()))
    assert len(pieces) >= 2
    assert "".join(pieces).strip() == full.text


def test_choice_logprobs_equal_a_full_forward_pass(tiny_gen):
    import torch

    q, passages = "Is Paris the capital?", ["Paris is the capital of France."]
    choices = ["Paris", "The Moon orbits", "no"]
    got = tiny_gen.choice_logprobs(q, passages, choices)
    tok, model = tiny_gen.tokenizer, tiny_gen.model
    p_ids = tok(tiny_gen.prompt(q, passages), add_special_tokens=False)["input_ids"]
    for c, lp in zip(choices, got):
        c_ids = tok(c, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([p_ids + c_ids])).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        want = sum(float(logp[len(p_ids) - 1 + j, t]) for j, t in enumerate(c_ids))
        assert lp == pytest.approx(want, abs=1e-4)
    assert all(x < 0 for x in got)
    with pytest.raises(ConfigError, match="at least one choice"):
        tiny_gen.choice_logprobs(q, passages, [])


def test_overrides_are_checked(tiny_gen):
    with pytest.raises(ConfigError, match="unknown generation override"):
        tiny_gen.generate("q", PASSAGES, beams=3)
    with pytest.raises(ConfigError, match="one list per question"):
        tiny_gen.generate_batch(["a", "b"], [PASSAGES])
    with pytest.raises(ConfigError, match="max_new_tokens"):
        TransformersGenerator("smollm2-135m", max_new_tokens=0)


def test_int8_dynamic_on_cpu(tiny_dir):
    g = TransformersGenerator(str(tiny_dir), int8=True, max_new_tokens=4, device="cpu")
    out = g.generate("Who won?", PASSAGES)
    assert out.tokens > 0
    assert "quantized.dynamic" in type(g.model.model.layers[0].self_attn.q_proj).__module__


def test_int8_per_channel_keeps_a_scale_an_output_row_and_bad_schemes_say_the_choices(tiny_dir):
    import torch

    per_tensor = TransformersGenerator(str(tiny_dir), int8=True, max_new_tokens=4, device="cpu")
    per_channel = TransformersGenerator(str(tiny_dir), int8="channel", max_new_tokens=4, device="cpu")
    for g, scheme in ((per_tensor, torch.per_tensor_affine), (per_channel, torch.per_channel_affine)):
        assert g.generate("Who won?", PASSAGES).tokens > 0
        w = g.model.model.layers[0].mlp.up_proj.weight()
        assert w.qscheme() == scheme
    assert per_channel.model.model.layers[0].mlp.up_proj.weight().q_per_channel_scales().numel() > 1
    with pytest.raises(ConfigError, match="'tensor' or 'channel'"):
        TransformersGenerator(str(tiny_dir), int8="rows")


def test_int8_refused_on_cuda(tiny_dir):
    with pytest.raises(ConfigError, match="int8"):
        TransformersGenerator(str(tiny_dir), int8=True, device="cuda")


def test_constructing_loads_nothing_and_bad_refs_fail_on_warm_up(tmp_path):
    g = TransformersGenerator(str(tmp_path / "missing-model-folder"))
    with pytest.raises(ModelNotFoundError, match="missing-model-folder"):
        g.warm_up()


def test_seq2seq_model_generates_from_the_plain_message(tmp_path):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from tests.tiny_lm import build_tokenizer

    tok = build_tokenizer()
    tok.chat_template = None
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=8, num_layers=1, num_heads=2,
                   pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.pad_token_id)
    model = T5ForConditionalGeneration(cfg)
    model.generation_config.suppress_tokens = list(tok.all_special_ids)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    g = TransformersGenerator(str(tmp_path), max_new_tokens=5, device="cpu")
    assert g.prompt("Who won?", PASSAGES).startswith("Answer the question")  # no chat markup
    out = g.generate_batch(["Who won?", "Where is Paris?"], [PASSAGES, PASSAGES[:1]])
    assert [o.tokens for o in out] == [5, 5]
