"""Probe (issue 21, sixth session; measured and not used): can the default generator itself judge
its answers? Four forward passes per answer over the window that holds it (the best question
coverage among windows holding the answer): the question's log-probability given the window and
the answer, against the window alone ("question reconstruction", qg_lp / qg_pmi); a yes/no judge
("Is X the answer?", judge); the answer's log-probability given the question, against a generic
question (ans_lp / ans_pmi). About 4 s per answer on 2 cores, twice the generation itself: the
guard's time budget (half the generation) rules it out unless it is much better than the guard's
signals, and it was not (docs/benchmark-history.md, issue 21 sixth session).

    python benchmarks/generator_signals_probe.py benchmarks/results/calibration/calibration_answers_signals.jsonl OUT.jsonl

Resumable (answers already in OUT are skipped); documentation answers first.
"""
import json, sys, math, time
from pathlib import Path
import numpy as np, torch
from groundqa.index import HybridIndex
from groundqa.verify.evidence import evidence_windows
from groundqa.verify.scorers import _flat
from groundqa.verify.lexical import units

src = Path(sys.argv[1]); out = Path(sys.argv[2])
recs = [json.loads(l) for l in src.read_text().splitlines() if l.strip()]
done = {json.loads(l)["id"] for l in out.read_text().splitlines()} if out.exists() else set()
from groundqa.generate import make_generator
gen = make_generator("default"); gen.warm_up()
model, tok = gen._model, gen._tok
torch.set_num_threads(2)
# the generator's model and tokenizer, for teacher-forced scoring outside its generate loop

def chat(user, assistant_prefix=""):
    s = tok.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    return s + assistant_prefix

@torch.no_grad()
def cont_lp(prompt, cont):
    p = tok(prompt, add_special_tokens=False)["input_ids"]; c = tok(cont, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c])
    lo = model(input_ids=ids).logits[0, len(p) - 1 : len(p) + len(c) - 1].float().log_softmax(-1)
    return lo[torch.arange(len(c)), torch.tensor(c)].numpy()

@torch.no_grad()
def yes_no(prompt):
    ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
    lo = model(input_ids=ids).logits[0, -1].float().log_softmax(-1)
    y = tok("yes", add_special_tokens=False)["input_ids"][0]; n = tok("no", add_special_tokens=False)["input_ids"][0]
    Y = tok("Yes", add_special_tokens=False)["input_ids"][0]; N = tok("No", add_special_tokens=False)["input_ids"][0]
    return float(torch.logsumexp(lo[[y, Y]], 0) - torch.logsumexp(lo[[n, N]], 0))

by = {}
for r in recs:
    if r["declined"] or not r["claims"] or r["id"] in done: continue
    by.setdefault(r["domain"], []).append(r)
f = out.open("a")
for dom, rows in sorted(by.items(), key=lambda kv: kv[0] == "squad"):
    index = HybridIndex.load(Path("runs/calibration/index") / dom)
    hits = index.search_batch([r["question"] for r in rows], top_k=4)
    for r, h in zip(rows, hits):
        t0 = time.perf_counter()
        ans = r["generated"].split(" [")[0].strip()
        wins = evidence_windows(h, 2)
        q = r["question"]; qw = units(q).words
        ff = _flat(ans)
        def cov(w): return len(qw & units(w.text).words) / max(1, len(qw))
        hold = [w for w in wins if ff and ff in _flat(w.text)]
        w = max(hold, key=cov) if hold else max(wins, key=cov)
        wt = w.text[:1200]
        lp_a = cont_lp(chat(f"Passage:\n{wt}\n\nWrite the question that this passage answers with \"{ans}\"."), q)
        lp_0 = cont_lp(chat(f"Passage:\n{wt}\n\nWrite a question about this passage."), q)
        judge = yes_no(chat(f"Passage:\n{wt}\n\nQuestion: {q}\nIs \"{ans}\" the answer to this question according to the passage? Answer yes or no."))
        # answer PMI: answer given window+question vs window alone
        la_q = cont_lp(chat(f"Passage:\n{wt}\n\nQuestion: {q}\nAnswer with a short span of the passage."), ans)
        la_0 = cont_lp(chat(f"Passage:\n{wt}\n\nQuestion: What is mentioned in this passage?\nAnswer with a short span of the passage."), ans)
        row = dict(id=r["id"], domain=dom, right=r["right"], answerable=r["answerable"], held=bool(hold),
                   qg_pmi=float(lp_a.mean() - lp_0.mean()), qg_lp=float(lp_a.mean()), judge=judge,
                   ans_pmi=float(la_q.mean() - la_0.mean()), ans_lp=float(la_q.mean()), secs=time.perf_counter() - t0)
        f.write(json.dumps(row) + "\n"); f.flush()
    print(dom, "done", file=sys.stderr, flush=True)
