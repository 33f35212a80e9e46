"""Packed weights for decoding steps (groundqa.generate.packed): the same numbers as the dense
layer for few rows and many, the model's parameters untouched, and the same answers."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from groundqa.generate.packed import PACKED_MAX_ROWS, pack_for_decoding, packing_available  # noqa: E402

pytestmark = pytest.mark.skipif(not packing_available(), reason="this torch build has no oneDNN packed linear kernels")


def test_packed_linear_matches_the_dense_layer_for_decoding_rows_and_prompt_rows():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(96, 160), torch.nn.Linear(160, 96, bias=False)).eval()
    xs = [torch.randn(1, 1, 96), torch.randn(8, 1, 96), torch.randn(2, PACKED_MAX_ROWS + 30, 96)]
    with torch.no_grad():
        want = [model(x) for x in xs]
        weights = [p.data_ptr() for p in model.parameters()]
        assert pack_for_decoding(model) == 2
        got = [model(x) for x in xs]
    assert [p.data_ptr() for p in model.parameters()] == weights  # the same parameters, not copies
    for w, g in zip(want, got):
        assert g.shape == w.shape
        assert torch.allclose(g, w, atol=1e-5, rtol=1e-5)


def test_fast_decode_gives_the_same_answers_and_logprobs(tiny_dir):
    from groundqa.generate import TransformersGenerator

    qs = ["Who won the game?", "Where is Paris?"]
    ps = [["Denver Broncos defeated the Carolina Panthers in Santa Clara."], ["Paris is the capital of France."]]

    def run(fast):
        g = TransformersGenerator(str(tiny_dir), max_new_tokens=8, batch_size=2, device="cpu", threads=None, fast_decode=fast)
        return g, g.generate_batch(qs, ps)

    plain_gen, plain = run(False)
    fast_gen, fast = run(True)
    assert plain_gen.packed_layers == 0 and fast_gen.packed_layers > 0
    assert [x.raw_text for x in fast] == [x.raw_text for x in plain]
    for a, b in zip(fast, plain):
        for k in ("lp_mean", "lp_min", "margin_min"):
            assert a.confidence[k] == pytest.approx(b.confidence[k], abs=1e-3)
