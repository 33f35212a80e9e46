"""The hidden-state probe (issue 21, tenth session): the states it reads while the generator writes
are the ones a full forward pass gives, the generator reports it where its folder ships one, and a
bad probe file says the fix."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from groundqa.errors import ConfigError
from groundqa.generate import TransformersGenerator
from groundqa.generate.probe import PROBE_FILE, HiddenProbe, HiddenRecorder, decoder_layers

QS = ["Who won the game?", "What boils at one hundred degrees?", "Where?"]
PS = [["Denver Broncos defeated the Carolina Panthers."], ["Water boils at one hundred degrees.", "The Moon orbits the Earth."],
      ["Santa Clara, California."]]


def _gen(folder, **kw):
    g = TransformersGenerator(str(folder), max_new_tokens=8, batch_size=4, device="cpu", decline_margin=None, **kw)
    g.warm_up()
    return g


def _with_probe(tiny_dir, tmp_path, seed=0):
    folder = tmp_path / "with-probe"
    shutil.copytree(tiny_dir, folder)
    hidden = json.loads((folder / "config.json").read_text())["hidden_size"]
    w = np.random.default_rng(seed).normal(size=2 * hidden)  # the answer's mean, then the prompt's last token
    HiddenProbe(layer=1, weight=w, bias=0.25, place="answer_mean,prompt_last", info={"test": True}).save(folder)
    return folder


def test_the_recorded_states_are_those_of_a_full_forward_pass(tiny_dir):
    import torch

    g = _gen(tiny_dir, prefix_cache=False)
    tok, model = g.tokenizer, g.model
    tok.padding_side = "left"
    prompts = [g.prompt(q, p) for q, p in zip(QS, PS)]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode(), HiddenRecorder(model, 1) as rec:
        seqs = model.generate(**enc, max_new_tokens=6, do_sample=False)
    plen = enc["input_ids"].shape[1]
    assert len(rec.steps) == seqs.shape[1] - plen  # the prompt, then every generated token but the last
    with torch.inference_mode():
        mask = torch.cat([enc["attention_mask"], torch.ones(seqs.shape[0], seqs.shape[1] - plen, dtype=torch.long)], 1)
        full = model(input_ids=seqs, attention_mask=mask, output_hidden_states=True).hidden_states[1]
    for row in range(len(QS)):
        assert np.allclose(rec.steps[0][row], full[row, plen - 1].numpy(), rtol=1e-4, atol=1e-3)  # the prompt's last token
        for k in range(seqs.shape[1] - plen - 1):
            assert np.allclose(rec.steps[k + 1][row], full[row, plen + k].numpy(), rtol=1e-4, atol=1e-3)
        want = full[row, plen : plen + 3].numpy().mean(0)
        assert np.allclose(rec.answer_mean(row, [0, 1, 2]), want, rtol=1e-4, atol=1e-3)
        both = rec.states(("answer_mean", "prompt_last"), row, [0, 1, 2])
        assert np.allclose(both, np.concatenate([want, full[row, plen - 1].numpy()]), rtol=1e-4, atol=1e-3)
    assert rec.answer_mean(0, [seqs.shape[1] - plen - 1]) is None  # the last token was never read back
    # forward calls of another thread (another worker's batch, a streamed answer) are not this one's
    import threading

    ran = []

    def elsewhere():
        with torch.inference_mode():
            ran.append(model(input_ids=seqs[:1]).logits.shape)

    with torch.inference_mode(), HiddenRecorder(model, 1) as mine:
        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
        assert len(ran) == 1 and mine.steps == []
        model(input_ids=seqs[:1])
        assert len(mine.steps) == 1
    # the hook is gone once the block ends
    n = len(rec.steps)
    with torch.inference_mode():
        model(input_ids=seqs[:1])
    assert len(rec.steps) == n


def test_the_generator_reports_its_folders_probe(tiny_dir, tmp_path):
    folder = _with_probe(tiny_dir, tmp_path)
    cached = _gen(folder)
    assert cached.probe is not None and cached.probe.layer == 1 and cached.probe.places == ("answer_mean", "prompt_last")
    outs = cached.generate_batch(QS, PS)
    plain = _gen(folder, prefix_cache=False).generate_batch(QS, PS)
    for a, b in zip(outs, plain):
        assert a.text == b.text
        assert math.isfinite(a.confidence["probe"])
        assert a.confidence["probe"] == pytest.approx(b.confidence["probe"], abs=1e-3)
    assert len({round(o.confidence["probe"], 4) for o in outs}) == len(QS)  # each answer its own
    assert "probe" not in _gen(tiny_dir).generate_batch(QS, PS)[0].confidence  # no probe file: no signal


def test_the_guard_reads_it_as_gen_probe():
    from groundqa.verify.scorers import ClaimContext, GenerationScorer

    s = GenerationScorer()
    assert "gen_probe" in s.features
    col = s.features.index("gen_probe")
    got = s.score([ClaimContext("c", "c", (), (), generation={"lp_mean": -0.1, "probe": 1.5}),
                   ClaimContext("c", "c", (), (), generation={"lp_mean": -0.1})]).values[:, col]
    assert got[0] == 1.5 and math.isnan(got[1])  # absent: NaN, read as the calibration's mean
    assert GenerationScorer.confidence_from({"gen_probe": 1.5, "gen_lp_mean": -0.1}) == {"probe": 1.5, "lp_mean": -0.1}


def test_probe_files_round_trip_and_bad_ones_say_the_fix(tiny_dir, tmp_path):
    p = HiddenProbe(layer=3, weight=np.array([0.5, -1.0]), bias=0.1, info={"answers": 2})
    p.save(tmp_path)
    q = HiddenProbe.load(tmp_path)
    assert q is not None and q.layer == 3 and q.bias == 0.1 and q.info == {"answers": 2}
    assert q.score(np.array([2.0, 1.0])) == pytest.approx(0.1)
    assert HiddenProbe.load(tmp_path / "nowhere") is None and HiddenProbe.load(None) is None
    r = HiddenProbe.load(p.save(tmp_path / "new" / "folder").parent)  # a missing folder is made
    assert r is not None and r.layer == 3 and r.weight.tolist() == [0.5, -1.0]
    with pytest.raises(ConfigError, match="fitted on other weights"):
        q.score(np.zeros(3))
    (tmp_path / PROBE_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="delete it to score no probe"):
        HiddenProbe.load(tmp_path)
    (tmp_path / PROBE_FILE).write_text(json.dumps({"layer": 1}))
    with pytest.raises(ConfigError, match="layer, weight and bias"):
        HiddenProbe.load(tmp_path)
    for bad in ("everywhere", "answer_mean,answer_mean", ""):
        with pytest.raises(ConfigError, match="place"):
            HiddenProbe(layer=1, weight=np.zeros(2), bias=0.0, place=bad)
    g = _gen(tiny_dir)
    assert len(decoder_layers(g.model)) == 2
    with pytest.raises(ConfigError, match="outside this model"):
        HiddenRecorder(g.model, 2)  # 2 layers: the last one's output is after the final norm, not a layer's
