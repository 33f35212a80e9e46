"""Helpers of issue 21's analysis scripts: which collected states a probe reads, which collected
answers are new, and where a gold answer first appears among retrieved passages."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_extra_states_pick_the_places_the_probe_reads():
    probe = _script("generator_hidden_probe")
    h = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float16)  # answer_mean | prompt_last, 2 values each
    both = {"h": h, "place": np.array("answer_mean,prompt_last")}
    assert probe.extra_states(both, "answer_mean").tolist() == [[1, 2], [5, 6]]
    assert probe.extra_states(both, "prompt_last").tolist() == [[3, 4], [7, 8]]
    assert probe.extra_states(both, "prompt_last,answer_mean").tolist() == [[3, 4, 1, 2], [7, 8, 5, 6]]
    old = {"h": h[:, :2]}  # collected before the place was recorded: the answer mean only
    assert probe.extra_states(old, "answer_mean").tolist() == [[1, 2], [5, 6]]
    with pytest.raises(SystemExit, match="--place prompt_last"):
        probe.extra_states(old, "prompt_last")


def test_fresh_drops_calibration_questions_asked_again_as_the_calibration_set_asked_them():
    probe = _script("generator_hidden_probe")
    e = {"ids": np.array(["q1#k4", "q2#k4", "q1#k6", "q9#k4"])}
    assert probe.fresh(e, {"q1", "q2"}).tolist() == [False, False, True, True]


def test_first_rank_finds_the_first_passage_holding_a_gold_answer():
    recall = _script("calibration_recall")
    texts = ["The default is **5**.", "Use `pip install 'pkg[extra]'` to add it.", "nothing here"]
    assert recall.first_rank(texts, ["pip install pkg[extra]"]) == 1
    assert recall.first_rank(texts, ["The default is 5", "nothing"]) == 0
    assert recall.first_rank(texts, ["absent"]) is None and recall.first_rank(texts, ["  "]) is None


def test_extracted_states_keep_their_layers_and_older_files_read_as_the_default_ones(tmp_path):
    """extract --layers (a 28-layer generator's probe is not at the 24-layer one's layers): the part
    files say which layers they hold, and a probe at a layer not extracted names the fix."""
    probe = _script("generator_hidden_probe")
    h = np.arange(2 * 3 * 3 * 2, dtype=np.float16).reshape(2, 3, 3, 2)  # answers x layers x places x hidden
    np.savez(tmp_path / "cal.part000.npz", ids=np.array(["a", "b"]), h=h, layers=np.array([8, 20, 28]))
    ids, H, layers = probe.load(tmp_path / "cal.npz")
    assert ids == ["a", "b"] and layers == (8, 20, 28)
    assert probe.states(H, [1], 20, "answer_mean", layers).tolist() == [h[1, 1, 1].tolist()]
    with pytest.raises(SystemExit, match="layers 8,20,28"):
        probe.states(H, [0], 16, "answer_mean", layers)
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / "cal.part000.npz", ids=np.array(["a"]), h=np.zeros((1, 6, 3, 2), np.float16))
    assert probe.load(old / "cal.npz")[2] == probe.LAYERS
    with pytest.raises(SystemExit, match="run extract first"):
        probe.load(tmp_path / "none.npz")


def test_threshold_transfer_never_fits_or_thresholds_on_the_corpus_it_scores(monkeypatch):
    """threshold_transfer.py: the left-out corpus's labels change what is counted right there, never
    the threshold or which of its answers are returned."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports calibration_fit
    tt = _script("threshold_transfer")
    rng = np.random.default_rng(0)

    def recs(flip: str) -> list[dict]:
        out = []
        for d in tt.DOCS:
            for k in range(40):
                right = bool(rng.random() < 0.6)
                x = rng.normal(1.0 if right else -1.0, 0.7)
                out.append({"domain": d, "group": f"f{k % 4}", "answerable": True, "declined": False,
                            "right": (not right) if d == flip else right,
                            "claims": [{"signals": {"x": float(x)}, "reasons": []}]})
        return out

    rng = np.random.default_rng(0)
    a = tt.transfer(recs(""), ["x"], tt.DOCS, tt.DOCS, "jinja", 0.9, 1.0)
    rng = np.random.default_rng(0)
    b = tt.transfer(recs("jinja"), ["x"], tt.DOCS, tt.DOCS, "jinja", 0.9, 1.0)
    assert a["threshold"] == b["threshold"] and a["returned"] == b["returned"] > 0
    assert a["right"] + b["right"] == a["returned"]  # the same answers, judged the other way round
    assert a["right"] / a["returned"] >= 0.8


def test_operating_point_counts_the_generators_declines_as_declined():
    ap = _script("answerability_probe")
    answerable = np.array([True, True, True, True, False, False, False, False, False, False, False, False, False, False])
    declined = np.zeros(14, bool)
    declined[[3, 4, 5]] = True  # one answerable, two unanswerable declined by the generator
    score = np.array([0.9, 0.8, 0.2, 0.0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85])
    op = ap.operating_point(score, answerable, declined)
    # 9 of 10 unanswerable must be declined: 2 already are, so the guard declines the 7 lowest of the
    # other 8 (up to 0.7); the answerable ones above it: 0.9 and 0.8, 2 of 4
    assert op == {"threshold": 0.7, "answerable_answered": 0.5, "unanswerable_declined": 0.9}
    all_declined = ap.operating_point(score, answerable, ~answerable)
    assert all_declined["threshold"] is None and all_declined["answerable_answered"] == 1.0


def test_probe_oof_never_scores_a_group_with_a_probe_that_saw_it(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports generator_hidden_probe
    ap = _script("answerability_probe")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.tile([0, 1], 30)
    groups = np.repeat(["a", "b", "c"], 20)
    X[:, 0] = np.where(groups == "c", 5.0 * y, 0.0)  # only group c's labels are readable, from column 0 (0 elsewhere)
    s = ap.probe_oof(X, y, groups, l2=1.0, dims=0)
    # c is scored by a probe fitted on a and b, which has nothing to learn from column 0: near chance
    auroc = _script("generator_hidden_probe").auroc
    assert auroc(s[groups == "c"], y[groups == "c"]) < 0.8
    X[:, 0] = 5.0 * y  # now every group carries it: each scored well by the others
    s = ap.probe_oof(X, y, groups, l2=1.0, dims=0)
    assert all(auroc(s[groups == g], y[groups == g]) > 0.95 for g in "abc")


def test_prompt_states_are_each_questions_own_prompt_last_state(tiny_dir):
    """Kept by batch row and handed back by question: each matches a full forward pass over that
    question's prompt alone, whatever the batch and its padding."""
    import torch

    from groundqa.generate import TransformersGenerator
    from groundqa.generate.probe import decoder_layers

    ap = _script("answerability_probe")
    g = TransformersGenerator(str(tiny_dir), max_new_tokens=4, batch_size=4, device="cpu", decline_margin=None)
    g.warm_up()
    keep = ap.PromptStates(g, (1, 2))
    qs = ["Who won the game?", "What boils at one hundred degrees, and where is it measured?", "Where?"]
    ps = [["Denver Broncos defeated the Carolina Panthers."], ["Water boils at one hundred degrees.", "The Moon orbits."],
          ["Santa Clara, California."]]
    g.generate_batch(qs, ps)
    assert set(keep.by_question) == set(qs)
    n_layers = len(decoder_layers(g.model))
    for q, p in zip(qs, ps):
        ids = g.tokenizer(g.prompt(q, p), add_special_tokens=g._special(), return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            hs = g.model(input_ids=ids, output_hidden_states=True).hidden_states
        for i, layer in enumerate((1, 2)):
            if layer < n_layers:  # the last layer's hidden_states entry has the final norm applied
                assert np.allclose(keep.by_question[q][i], hs[layer][0, -1].numpy(), rtol=1e-4, atol=1e-3)


def test_threshold_bootstrap_spread_shrinks_with_more_calibration_data():
    """calibration_fit.py --bootstrap: the threshold rule run on resamples of the document groups;
    the same seed gives the same picks, and more groups of the same kind pin the threshold down."""
    cf = _script("calibration_fit")

    def recs(n_groups: int, seed: int) -> list[dict]:
        rng = np.random.default_rng(seed)
        out = []
        for g in range(n_groups):
            for k in range(10):
                right = bool(rng.random() < 0.6)
                out.append({"domain": "docs", "group": f"g{g}", "answerable": True, "declined": False, "right": right,
                            "claims": [{"signals": {"x": float(rng.normal(1.0 if right else -1.0, 1.0))}, "reasons": []}]})
        return out

    small = recs(10, 0)
    a = cf.bootstrap_thresholds(small, ["x"], {"docs"}, {"docs"}, 0.9, 1.0, n=30, seed=1)
    assert a == cf.bootstrap_thresholds(small, ["x"], {"docs"}, {"docs"}, 0.9, 1.0, n=30, seed=1)
    q = a["quantiles_5_25_50_75_95"]
    assert a["resamples"] == 30 and a["unfit"] < 30 and q == sorted(q) and 0.0 < q[0] and q[-1] <= 1.0
    big = cf.bootstrap_thresholds(recs(60, 0), ["x"], {"docs"}, {"docs"}, 0.9, 1.0, n=30, seed=1)
    assert big["std"] < a["std"]


def test_docs_goal_bound_counts_wrong_answers_and_unanswerable_declines_as_the_goal_does():
    """oracle_threshold.py --docs-qa: the most right answers at a threshold that returns at most one
    wrong answer to an answerable question and declines at least 6 of 7 unanswerable ones."""
    ot = _script("oracle_threshold")

    def rec(answerable: bool, right: bool, support: float | None, declined: bool = False, shipped: str = "right") -> dict:
        return {"answerable": answerable, "generated_right": right, "support": support,
                "policies": {"return": {"verdict": "declined" if declined else "supported"}, "abstain": {"outcome": shipped}}}

    recs = [rec(True, True, s) for s in (0.9, 0.8, 0.5, 0.3)]
    recs += [rec(True, False, 0.85, shipped="wrong_passed"), rec(True, False, 0.4, shipped="withheld_wrong")]
    recs += [rec(False, False, 1.0, declined=True, shipped="unanswerable_declined") for _ in range(5)]
    recs += [rec(False, False, 0.6, shipped="unanswerable_answered"), rec(False, False, 0.2, shipped="unanswerable_withheld")]
    got = ot.analyse_docs(recs)
    # at 0.5: right 0.9, 0.8, 0.5; wrong 0.85 (one); unanswerable 0.6 returned (6 of 7 declined). At 0.3 the
    # second wrong answer (0.4) comes in; at 0.2 a second unanswerable one
    assert (got["oracle_right_at_most_1_wrong"], got["oracle_wrong"], got["oracle_unanswerable_declined"]) == (3, 1, 6)
    assert got["oracle_threshold"] == 0.5
    assert (got["shipped_right"], got["shipped_wrong"], got["shipped_unanswerable_declined"]) == (4, 1, 6)
    assert got["generated_right"] == 4 and got["unanswerable"] == 7


def test_joint_bound_holds_both_goals_at_one_threshold_and_scores_unseen_answers_as_shipped(monkeypatch):
    """oracle_threshold.py --joint (issue 21, nineteenth session): the thresholds at which the docs-QA
    goal and the v1.1 goal both hold, and what each returns on answers of corpora no fit uses, scored
    by the calibration's combiner as corpus_threshold.py scores them."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports calibration_fit
    ot = _script("oracle_threshold")

    def doc(answerable: bool, right: bool, support: float | None, declined: bool = False) -> dict:
        return {"answerable": answerable, "generated_right": right, "support": support,
                "policies": {"return": {"verdict": "declined" if declined else "supported"}}}

    def sq(right: bool, support: float) -> dict:
        return {"golds": ["x"], "raw_f1": 1.0 if right else 0.0, "support": support, "verdict": "supported"}

    # docs: 2 right answers needed, at most 1 wrong, 6 of 7 unanswerable declined
    docs = [doc(True, True, 0.9), doc(True, True, 0.7), doc(True, False, 0.8), doc(True, False, 0.55)]
    docs += [doc(False, False, 1.0, declined=True) for _ in range(6)] + [doc(False, False, 0.6)]
    # v1.1: half answered at 90% right; answers right down to 0.65, then wrong
    squad = [sq(True, v) for v in (0.99, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65)] + [sq(False, v) for v in (0.6, 0.5)]
    squad += [sq(False, 0.1) for _ in range(6)]
    unseen_path = ROOT / "benchmarks" / "results" / "calibration" / "calibration_answers_default_urllib3.jsonl"
    unseen = [json.loads(x) for x in unseen_path.read_text(encoding="utf-8").splitlines()]
    cal = str(ROOT / "src" / "groundqa" / "data" / "verifier" / "calibration.json")
    got = ot.analyse_joint(docs, squad, unseen, cal, docs_right=2, coverage=0.5)
    # the docs goal needs 0.7 returned and 0.55 withheld; v1.1 needs 8 of 16 answered (the threshold at 0.65 or
    # below) at 90% right (above 0.6: 8 right of 9 is 0.89). So both hold above 0.6 up to 0.65
    lo, hi = got["thresholds_meeting_goals"]
    assert 0.6 < lo < 0.65 and hi == 0.65
    best = got["best_meeting_goals"]
    # every threshold that meets both is above 0.6, so the unanswerable answer (0.6) is withheld as well
    assert lo <= best["threshold"] <= hi and best["docs"] == {"right": 2, "wrong": 1, "unanswerable_declined": 7}
    assert best["squad11"]["precision"] == 1.0
    # the calibration's own threshold on the unseen answers: corpus_threshold.py's urllib3 count (26 returned, 24 right)
    assert (got["shipped"]["unseen"]["returned"], got["shipped"]["unseen"]["right"]) == (26, 24)
    assert got["unseen_questions"] == 100
    # no threshold meets a docs goal of 3 right answers
    assert ot.analyse_joint(docs, squad, unseen, cal, docs_right=3, coverage=0.5)["best_meeting_goals"] is None


def test_gold_retrieved_tells_a_retrieval_miss_from_a_reading_miss(tmp_path, monkeypatch):
    """gold_retrieved.py (issue 21, nineteenth session): per answerable question, whether the top-k
    chunks hold a gold answer and whether the generator's evidence window of them still does, beside
    whether the stored answer is right; unanswerable ones and other domains are left out, and an
    unknown domain is refused."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports calibration_set
    import calibration_set

    docs = tmp_path / "docs_qa" / "tiny-1" / "docs"
    docs.mkdir(parents=True)
    (docs / "serve.md").write_text("# Serving\n\nRun the app with Uvicorn, an ASGI server.\n", encoding="utf-8")
    (docs / "routes.md").write_text("# Routing\n\nA Route maps a path to an endpoint function.\n", encoding="utf-8")
    (docs / "ports.md").write_text("# Ports\n\nThe default port is set in the settings module. It is 8123 unless changed.\n",
                                   encoding="utf-8")
    monkeypatch.setattr(calibration_set, "DOCS", tmp_path / "docs_qa")
    monkeypatch.setattr(calibration_set, "DOCS_CORPORA", {"tiny": "tiny-1"})
    recs = [{"domain": "tiny", "id": "1", "question": "Which server runs the app?", "answers": ["Uvicorn"], "answerable": True, "right": True},
            {"domain": "tiny", "id": "2", "question": "Which database stores sessions?", "answers": ["zzqq"], "answerable": True, "right": False},
            {"domain": "tiny", "id": "3", "question": "What is the default port?", "answers": ["8123"], "answerable": True, "right": True},
            {"domain": "tiny", "id": "4", "question": "Who wrote it?", "answers": [], "answerable": False, "right": False},
            {"domain": "tiny", "id": "6", "question": "Who maintains the project?", "answers": ["Kim Lee"], "answerable": True, "right": True},
            {"domain": "other", "id": "5", "question": "Which server?", "answers": ["Uvicorn"], "answerable": True, "right": True}]
    data, out = tmp_path / "a.jsonl", tmp_path / "out.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    gr = _script("gold_retrieved")

    def run(*extra: str) -> dict:
        monkeypatch.setattr("sys.argv", ["gold_retrieved.py", "--data", str(data), "--domains", "tiny", "--top-k", "2",
                                         "--cache", str(tmp_path / "cache"), "--json", str(out), *extra])
        assert gr.main() == 0
        return json.loads(out.read_text(encoding="utf-8"))["domains"]["tiny"]

    # pages shorter than the window are read whole: what is retrieved is shown
    assert run() == {"answerable": 4, "gold_retrieved": 2, "gold_shown": 2, "right": 3, "right_shown": 2,
                     "right_retrieved": 2, "right_not_retrieved": 1}
    # six words a passage: the port's sentence is cut to the words around "default port", without 8123
    narrow = run("--window-words", "6")
    assert (narrow["gold_retrieved"], narrow["gold_shown"], narrow["right_shown"]) == (2, 1, 1)
    monkeypatch.setattr("sys.argv", ["gold_retrieved.py", "--data", str(data), "--domains", "nowhere", "--cache", str(tmp_path / "cache")])
    with pytest.raises(SystemExit, match="unknown documentation domain"):
        gr.main()


def test_rejudge_relabels_stored_answers_by_the_current_rule_and_keeps_the_source(tmp_path, monkeypatch):
    """calibration_set.py --rejudge: a gold code name after a dot now counts (issue 21, fourteenth
    session); an unanswerable question's answer stays wrong; the source file is never overwritten."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports docs_qa
    cs = _script("calibration_set")
    recs = [{"domain": "starlette", "id": "a31", "answers": ["is_disconnected"], "answerable": True,
             "generated": "disconnected = await request.is_disconnected() [1]", "right": False},
            {"domain": "click", "id": "u1", "answers": [], "answerable": False, "generated": "80 [1]", "right": False},
            {"domain": "click", "id": "c1", "answers": ["80"], "answerable": True, "generated": "120 [1]", "right": False}]
    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    assert cs.rejudge(src, tmp_path / "b.jsonl") == 0
    got = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["right"] for r in got] == [True, False, False]
    assert [json.loads(x)["right"] for x in src.read_text(encoding="utf-8").splitlines()] == [False, False, False]
    with pytest.raises(SystemExit, match="another file"):
        cs.rejudge(src, src)


def test_rejudge_can_take_the_golds_from_the_question_files_as_they_are_now(tmp_path, monkeypatch):
    """--rejudge --refresh-golds (issue 21, seventeenth session): a gold form added to a question file
    relabels the stored answer; a question in no file is refused."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    cs = _script("calibration_set")
    docs = tmp_path / "docs_qa"
    docs.mkdir()
    (docs / "click_questions.json").write_text(json.dumps({"questions": [{"id": "c1", "answers": ["fields.List", "List"]}]}))
    monkeypatch.setattr(cs, "DOCS", docs)
    rec = {"domain": "click", "id": "c1", "answers": ["fields.List"], "answerable": True, "generated": "List [3]", "right": False}
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    assert cs.rejudge(src, tmp_path / "b.jsonl") == 0 and not json.loads((tmp_path / "b.jsonl").read_text())["right"]
    assert cs.rejudge(src, tmp_path / "c.jsonl", refresh_golds=True) == 0
    got = json.loads((tmp_path / "c.jsonl").read_text())
    assert got["right"] and got["answers"] == ["fields.List", "List"]
    src.write_text(json.dumps({**rec, "id": "c9"}) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="in no click_questions"):
        cs.rejudge(src, tmp_path / "d.jsonl", refresh_golds=True)


def test_corpus_threshold_paired_counts_the_difference_question_by_question(tmp_path, monkeypatch):
    """corpus_threshold.py --paired (issue 21, fourteenth session): the same questions answered two
    ways; answers relabelled from right to wrong in one file show up as that many fewer right and
    more wrong answers returned, and the interval holds the difference."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as when run as a script: it imports calibration_fit
    ct = _script("corpus_threshold")
    src = ROOT / "benchmarks" / "results" / "calibration" / "calibration_answers_default_rst_old.jsonl"
    recs = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines()[:57]]  # Click's
    base, data, out = tmp_path / "base.jsonl", tmp_path / "data.jsonl", tmp_path / "out.json"
    base.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    flipped = [dict(r, right=False) if r["right"] and r["claims"] else r for r in recs[:30]] + recs[30:]
    data.write_text("".join(json.dumps(r) + "\n" for r in flipped), encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["corpus_threshold.py", "--data", str(data), "--domains", "click", "--paired", str(base), "--json", str(out)])
    assert ct.main() == 0
    got = json.loads(out.read_text(encoding="utf-8"))
    shipped = got["corpora"]["click"]["shipped"]
    p = got["paired"]
    assert p["questions"] == 57 and p["right_returned"]["difference"] == -p["wrong_returned"]["difference"] < 0
    assert shipped["right"] - p["right_returned"]["difference"] == 22  # the base returns 22 right (history table)
    lo, hi = p["right_returned"]["interval_90"]
    assert lo <= p["right_returned"]["difference"] <= hi
    # each side's totals over the paired questions: the flips move answers from right to wrong, not in or out
    dt, bt = p["data_totals"], p["base_totals"]
    assert bt["right"] == 22 and dt["returned"] == bt["returned"] == shipped["returned"]
    assert dt["right"] == shipped["right"] and bt["right"] - dt["right"] == -p["right_returned"]["difference"]
    assert dt["unanswerable_returned"] == bt["unanswerable_returned"] <= sum(not r["answerable"] for r in recs)
    # every question relabelled unanswerable (so wrong): all it returns is counted as unanswerable returned
    unans = tmp_path / "unans.jsonl"
    unans.write_text("".join(json.dumps(dict(r, answerable=False, right=False)) + "\n" for r in recs), encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["corpus_threshold.py", "--data", str(unans), "--domains", "click", "--paired", str(base), "--json", str(out)])
    assert ct.main() == 0
    ut = json.loads(out.read_text(encoding="utf-8"))["paired"]["data_totals"]
    assert ut["unanswerable_returned"] == ut["returned"] == bt["returned"] and ut["right"] == 0
    # the base in two files, read as one, gives the same comparison; a question given twice is refused
    b1, b2 = tmp_path / "b1.jsonl", tmp_path / "b2.jsonl"
    b1.write_text("".join(json.dumps(r) + "\n" for r in recs[:20]), encoding="utf-8")
    b2.write_text("".join(json.dumps(r) + "\n" for r in recs[20:]), encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["corpus_threshold.py", "--data", str(data), "--domains", "click", "--paired", str(b1), "--paired", str(b2),
                                     "--json", str(out)])
    assert ct.main() == 0
    assert json.loads(out.read_text(encoding="utf-8"))["paired"] == dict(p, base=[str(b1), str(b2)])
    monkeypatch.setattr("sys.argv", ["corpus_threshold.py", "--data", str(data), "--data", str(b1), "--domains", "click"])
    with pytest.raises(SystemExit, match="appears twice"):
        ct.main()
    # two corpora: each reported, and pooled (the same answers under a second domain name count twice)
    assert "pooled" not in got
    twin = tmp_path / "twin.jsonl"
    twin.write_text("".join(json.dumps(dict(r, domain="flask")) + "\n" for r in recs), encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["corpus_threshold.py", "--data", str(base), "--data", str(twin), "--domains", "click,flask", "--json", str(out)])
    assert ct.main() == 0
    both = json.loads(out.read_text(encoding="utf-8"))
    assert both["pooled"]["shipped"]["right"] == 2 * both["corpora"]["click"]["shipped"]["right"] == 44
    assert both["pooled"]["answers"] == 114


def test_reason_rates_count_fires_on_right_answers_once_per_claim(monkeypatch):
    """calibration_fit.reason_rates (--reasons-only): deliverable 2's measure, a reason counted once
    per claim whatever answer it quotes, and how often the answer it capped was right."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    cf = _script("calibration_fit")
    echo = "the answer '{}' only repeats words of the question; the evidence does not give it as the answer"
    recs = [{"right": True, "claims": [{"reasons": [echo.format("fail"), echo.format("fail")]}]},
            {"right": False, "claims": [{"reasons": [echo.format("O'Brien")]}, {"reasons": []}]},
            {"right": False, "claims": []}]
    rates = cf.reason_rates(recs)
    assert list(rates) == [echo.format("...")]
    assert rates[echo.format("...")] == {"fires": 2, "on_right": 1, "wrong_share": 0.5}


def test_keep_copies_the_states_of_the_answers_that_did_not_change(tmp_path):
    """keep: an answer answered again has the same id, so only the unchanged domains' states are
    copied, and extract into the new name reads the rest."""
    probe = _script("generator_hidden_probe")
    h = np.arange(3 * 2 * 3 * 2, dtype=np.float16).reshape(3, 2, 3, 2)
    np.savez(tmp_path / "old.part000.npz", ids=np.array(["s1", "c1", "s2"]), h=h, layers=np.array([8, 20]))
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "domain": d}) + "\n" for i, d in (("s1", "squad"), ("c1", "click"), ("s2", "squad"))))
    assert probe.keep(str(tmp_path / "old.part*.npz"), answers, {"squad"}, tmp_path / "new.npz") == 0
    ids, H, layers = probe.load(tmp_path / "new.npz")
    assert ids == ["s1", "s2"] and layers == (8, 20) and H.tolist() == h[[0, 2]].astype(np.float32).tolist()
    with pytest.raises(SystemExit, match="new NPZ name"):
        probe.keep(str(tmp_path / "old.part*.npz"), answers, {"squad"}, tmp_path / "new.npz")
    with pytest.raises(SystemExit, match="no answer"):
        probe.keep(str(tmp_path / "old.part*.npz"), answers, {"flask"}, tmp_path / "other.npz")
