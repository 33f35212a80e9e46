"""The guard's calibration set (issue 21): the default generator's own answers, with its signals.

Answers questions of both kinds of text a user brings, end to end (retrieve -> generate -> guard,
policy ``return``), and writes one JSON line per question: domain, document group, the generated
answer, whether it is right, and for each claim the guard's signals (``Guard.features``, the
generator's confidence ``gen_lp_mean``, ``gen_lp_min``, ``gen_margin_min``, ``gen_span_score``
included) and every reason the guard names (the guard runs at threshold 1.0 here, so reasons are
kept for every claim, right or wrong). ``benchmarks/calibration_fit.py`` fits the combiner on it.

Domains and groups (the fit and its checks split by group, never by question):
- ``squad``: SQuAD v1.1 answerable questions of the articles the adapter holds out as its dev
  articles (never trained on), and SQuAD v2.0 unanswerable questions of the articles outside the
  benchmarks' held-out ones (with ``--exclude-verifier-articles``, also outside those the verifier
  v3 experiment trained on: ``verifier_articles``); group = article. The index holds every
  paragraph of those articles. The paragraphs of the demo's sample corpus are left out.
- ``starlette``: the Starlette docs-QA questions of the calibration files (``CAL_FILES``:
  alternate files in name order); the other files' questions and the unanswerable ones are held
  out for ``benchmarks/docs_qa.py``; group = file. The index holds all 23 files.
- ``click``: the Click 8.1.7 docs snapshot and its 57 questions (45 answerable, 12 unanswerable),
  all for calibration; group = file (the unanswerable ones: one group each).
- ``flask``: the Flask 3.0.3 docs snapshot and its questions (``flask_questions.json``), all for
  calibration; group = file, as for Click.
- ``jinja``: the Jinja 3.1.4 docs snapshot (reStructuredText) and its 57 questions (45 answerable,
  12 unanswerable); ``markdown``: the Python-Markdown 3.11.3 docs snapshot (Markdown, as Starlette's
  are) and its 54 questions (42 answerable, 12 unanswerable). All for calibration; group = file.
- ``attrs`` (attrs 26.1.0, Markdown and reStructuredText) and ``werkzeug`` (Werkzeug 3.1.9,
  reStructuredText): 60 questions each (48 answerable, 12 unanswerable), written in issue 21's
  fourteenth session and kept out of every fit, to measure a calibration on corpora it never saw.
- ``pymdown`` (PyMdown Extensions 13.1.2, Markdown): 100 questions (80 answerable, 20 unanswerable),
  written in issue 21's sixteenth session for calibration; group = file.
- ``structlog`` (structlog 26.1.0, Markdown and one reStructuredText page): 100 questions (80
  answerable, 20 unanswerable), written in issue 21's seventeenth session and, like attrs and
  Werkzeug, kept out of every fit.
- ``marshmallow`` (marshmallow 4.4.0, reStructuredText, API-dense): 100 questions (80 answerable, 20
  unanswerable), written in issue 21's seventeenth session for calibration; group = file.
- ``urllib3`` (urllib3 2.5.0, reStructuredText): 100 questions (80 answerable, 20 unanswerable),
  written in issue 21's eighteenth session and, like attrs, Werkzeug and structlog, kept out of
  every fit.
- ``black`` (Black 26.10.1, Markdown), ``anyio`` (AnyIO 4.16.0), ``coverage`` (coverage.py 7.18.0)
  and ``apscheduler`` (APScheduler 3.11.3; the last three reStructuredText): 100 questions each (80
  answerable, 20 unanswerable), written in issue 21's nineteenth session and, like urllib3, kept out
  of every fit.
- ``cattrs`` (cattrs 26.2.1, Markdown) and ``alembic`` (Alembic 1.20.1, reStructuredText): 100
  questions each (80 answerable, 20 unanswerable), written in issue 21's twentieth session and kept
  out of every fit.
- ``trio`` (trio 0.35.0) and ``babel`` (Babel 2.19.0; both reStructuredText): 100 questions each
  (80 answerable, 20 unanswerable), written in issue 21's twentieth session, kept out of every fit
  and, that session, unread by any model: fresh for a later candidate's read.
- ``--question-set more``: the 50 further questions each of Click, Flask, Jinja and Markdown
  (``<domain>_questions_more.json``, tenth session) instead of their first files; ``third``: 50
  more each again (``<domain>_questions_third.json``, sixteenth session).

Right: SQuAD, token F1 >= 0.5 with a gold answer; docs, the docs-QA judging rule (a normalised
gold answer inside the normalised answer). An answer to an unanswerable question is wrong.
Resumable: rerun the same command and questions already in ``--out`` are skipped. ``--rescore
FILE`` judges stored answers again with the current guard (same retrieval, stored generation
signals), for a changed guard or answer check, without generating again.

    OMP_NUM_THREADS=2 python benchmarks/calibration_set.py --generator runs/qwen05-answers \
        --out runs/calibration/answers.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DOCS = ROOT / "benchmarks" / "data" / "docs_qa"
# the Starlette files whose questions calibrate (alternate files in name order); the rest are held out
CAL_FILES = ("applications.md", "config.md", "index.md", "requests.md", "routing.md", "testclient.md")
# the articles the adapter's fine-tuning holds out as dev (groundqa_card.json, dev_documents)
ADAPTER_DEV = ("American_Broadcasting_Company", "Jacksonville,_Florida", "Martin_Luther")
# the documentation snapshots under benchmarks/data/docs_qa, by domain (questions: <domain>_questions.json)
DOCS_CORPORA = {"starlette": "starlette-0.41.3", "click": "click-8.1.7", "flask": "flask-3.0.3", "jinja": "jinja-3.1.4", "markdown": "markdown-3.11.3",
                "attrs": "attrs-26.1.0", "werkzeug": "werkzeug-3.1.9", "pymdown": "pymdown-13.1.2", "structlog": "structlog-26.1.0",
                "marshmallow": "marshmallow-4.4.0", "urllib3": "urllib3-2.5.0",
                "black": "black-26.10.1", "anyio": "anyio-4.16.0",
                "coverage": "coverage-7.18.0", "apscheduler": "apscheduler-3.11.3",
                "cattrs": "cattrs-26.2.1", "alembic": "alembic-1.20.1", "trio": "trio-0.35.0", "babel": "babel-2.19.0"}


def verifier_articles(v1_path: Path | None = None, v2_path: Path | None = None) -> tuple[list[str], list[str]]:
    """(the SQuAD v2.0 dev articles the verifier v3 trains on, the ones left to calibration).

    The articles no benchmark reports on (not among the 12 last titles of v1.1 dev or of v2.0 dev)
    and not the adapter's dev articles (the calibration set's answerable questions), in sorted
    order: the even positions train the verifier (``benchmarks/verifier_v3_data.py``), the odd ones
    give the calibration set its unanswerable questions with ``--exclude-verifier-articles``, so a
    fit for that verifier never scores what it was trained on."""
    v1 = sorted(a["title"] for a in json.loads((v1_path or SHARED / "squad_v1.1_dev" / "dev-v1.1.json").read_text(encoding="utf-8"))["data"])
    v2 = sorted(a["title"] for a in json.loads((v2_path or SHARED / "squad_v2.0_dev" / "dev-v2.0.json").read_text(encoding="utf-8"))["data"])
    held = set(v1[-12:]) | set(v2[-12:]) | set(ADAPTER_DEV)
    free = [t for t in v2 if t not in held]
    return free[0::2], free[1::2]


def sample_paragraphs() -> str:
    """The demo's sample corpus as one whitespace-normalised text (a paragraph is in it when its
    first 200 normalised characters are)."""
    from groundqa.documents import sample_corpus_dir

    return " ".join(" ".join(f.read_text(encoding="utf-8").split()) for f in sorted(Path(sample_corpus_dir()).glob("*.md")))


def squad_questions(n_answerable: int, n_unanswerable: int, seed: int, exclude: Any = ()) -> tuple[list[Any], list[dict[str, Any]]]:
    """The SQuAD items to index (every paragraph of the non-held-out articles) and the questions;
    no unanswerable question is taken from the articles in ``exclude``."""
    from groundqa.datasets.squad import load_squad

    v1 = load_squad(str(SHARED / "squad_v1.1_dev" / "dev-v1.1.json"))
    v2 = load_squad(str(SHARED / "squad_v2.0_dev" / "dev-v2.0.json"))
    held = set(sorted({i.doc_id for i in v1})[-12:]) | set(sorted({i.doc_id for i in v2})[-12:])
    demo = sample_paragraphs()
    ok = lambda it: it.doc_id not in held and " ".join(it.context.split())[:200] not in demo  # noqa: E731
    # every paragraph once: v1.1's, then v2.0's that v1.1 does not hold (their own ids: the two
    # files number an article's paragraphs differently)
    import dataclasses

    seen = {" ".join(it.context.split()) for it in v1}
    pool = [it for it in v1 if ok(it)] + [dataclasses.replace(it, doc_id=f"{it.doc_id} (v2.0)") for it in v2
                                          if ok(it) and " ".join(it.context.split()) not in seen]
    rng = random.Random(seed)
    ans = [it for it in v1 if ok(it) and it.doc_id in ADAPTER_DEV]
    una = [it for it in v2 if ok(it) and not it.answers and it.doc_id not in exclude]
    rng.shuffle(ans)
    rng.shuffle(una)
    qs = [{"domain": "squad", "group": it.doc_id, "id": it.id, "question": it.question, "answers": list(it.answers), "answerable": bool(it.answers)}
          for it in ans[:n_answerable] + una[:n_unanswerable]]
    return pool, qs


def docs_questions(corpus: str, question_set: str = "first") -> list[dict[str, Any]]:
    """A documentation corpus's questions: its first file (``<corpus>_questions.json``) or, with
    ``question_set="more"``, its second (``<corpus>_questions_more.json``, written in issue 21's
    tenth session), with ``"third"`` its third (``<corpus>_questions_third.json``, sixteenth
    session). Starlette, attrs, Werkzeug, PyMdown, structlog, marshmallow, urllib3,
    Black, AnyIO, coverage.py, APScheduler, cattrs, Alembic, trio and Babel have only a first."""
    path = DOCS / (f"{corpus}_questions.json" if question_set == "first" else f"{corpus}_questions_{question_set}.json")
    if not path.exists():
        raise SystemExit(f"{corpus} has no {question_set!r} question file ({path.name}); leave {corpus} out of --domains "
                         f"or use --question-set first")
    spec = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for q in spec["questions"]:
        if corpus == "starlette" and (not q["answerable"] or q["source"] not in CAL_FILES):
            continue
        out.append({"domain": corpus, "group": q["source"] or f"unanswerable:{q['id']}", "id": q["id"], "question": q["question"],
                    "answers": q["answers"], "answerable": q["answerable"]})
    return out


def docs_index(folder: Path, cache: Path) -> Any:
    """The corpus's index, from ``cache`` when it holds the text the loader reads now (else rebuilt)."""
    from docs_qa import cached_index  # this script's folder is on sys.path

    from groundqa.documents import load_documents

    return cached_index(load_documents([str(folder)]).documents, cache)[0]


def right(q: dict[str, Any], text: str) -> bool:
    from groundqa.generate.prompts import strip_citations

    if not q["answerable"]:
        return False
    if q["domain"] == "squad":
        from groundqa.datasets.squad import best_over

        return best_over(q["answers"], strip_citations(text), "1.1")[1] >= 0.5
    from docs_qa import is_right  # this script's folder is on sys.path

    return is_right(text, q["answers"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="default", help="the generator whose own answers are calibrated (profile, model or adapter folder)")
    ap.add_argument("--domains", default="squad,starlette,click")
    ap.add_argument("--squad-answerable", type=int, default=120)
    ap.add_argument("--squad-unanswerable", type=int, default=80)
    ap.add_argument("--limit", type=int, default=None, help="the first N questions of each domain (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--cache", default="runs/calibration/index", help="index folders are saved here and reused")
    ap.add_argument("--exclude-verifier-articles", action="store_true",
                    help="take no unanswerable SQuAD question from the articles benchmarks/verifier_v3_data.py trains on (to calibrate that verifier)")
    ap.add_argument("--verifier", default="default", help="the guard's cross-encoder (default: the shipped one; a folder to compare another)")
    ap.add_argument("--reader", default="default", help="the guard's extractive reader: default (the shipped one), a folder, or none")
    ap.add_argument("--score-decline", action="store_true",
                    help="also record how near each answer came to the decline sentence (the generation's confidence, "
                         "decline_gap included), with no decline margin applied: for choosing an adapter's decline_margin")
    ap.add_argument("--decline-margin", type=float, default=None,
                    help="with --rescore: decline, as a generator with this decline margin would, every stored answer whose "
                         "gen_decline_gap is above -MARGIN (exact for answers generated with a smaller margin or none)")
    ap.add_argument("--int8", nargs="?", const="tensor", default=None, choices=["tensor", "channel"],
                    help="load the generator with dynamic int8 linear layers (CPU): one weight scale a layer (tensor, the default "
                         "with no value) or an output row (channel)")
    ap.add_argument("--question-set", default="first", choices=["first", "more", "third"],
                    help="the documentation domains' questions: first (<domain>_questions.json, the calibration set's), more "
                         "(<domain>_questions_more.json: 50 further questions each for click, flask, jinja and markdown) or third "
                         "(<domain>_questions_third.json: 50 more each again)")
    ap.add_argument("--window-words", type=int, default=None,
                    help="words of each passage the generator reads (its evidence window; default: the generator's own, 40)")
    from groundqa.generate.context import WINDOW_SPLITS  # pure: no model, no torch

    ap.add_argument("--window-split", choices=WINDOW_SPLITS, default=None,
                    help="how the window budget is shared among the passages (default: the generator card's, else even)")
    ap.add_argument("--out", default="runs/calibration/answers.jsonl")
    ap.add_argument("--rescore", default=None, metavar="ANSWERS.jsonl",
                    help="generate nothing: judge the answers of this file again with the current guard (the same retrieval from the "
                         "cached indexes, the stored generation signals) and write them to --out; for a changed guard or answer check")
    ap.add_argument("--rejudge", default=None, metavar="ANSWERS.jsonl",
                    help="load no model: label the stored answers of this file right or wrong again by the current judging "
                         "rule (right()), and write them to --out; for a changed rule")
    ap.add_argument("--refresh-golds", action="store_true",
                    help="with --rejudge: take each documentation question's gold answers from its question file as it is now "
                         "(a gold form added or mended there), not from the stored answer")
    args = ap.parse_args()
    if args.rejudge:
        return rejudge(Path(args.rejudge), Path(args.out), refresh_golds=args.refresh_golds)
    if args.rescore:
        return rescore(Path(args.rescore), Path(args.out), Path(args.cache), args.batch_size, args.verifier, args.reader, args.decline_margin)

    from groundqa.eval.qa import build_context_index
    from groundqa.generate.hf import TransformersGenerator
    from groundqa.index import HybridIndex
    from groundqa.pipeline import Pipeline
    from groundqa.verify.guard import Guard

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()} if out.exists() else set()
    gen = TransformersGenerator(args.generator, batch_size=args.batch_size, int8=args.int8 or False,
                                **({"score_decline": True, "decline_margin": None} if args.score_decline else {}),
                                **({"window_words": args.window_words} if args.window_words else {}),
                                **({"window_split": args.window_split} if args.window_split else {}))
    confidence: dict[str, dict[str, float]] = {}
    if args.score_decline:
        generate_batch = gen.generate_batch

        def keep_confidence(questions: Any, passages: Any, **kw: Any) -> Any:
            outs = generate_batch(questions, passages, **kw)
            confidence.update({q: dict(g.confidence) for q, g in zip(questions, outs)})
            return outs

        gen.generate_batch = keep_confidence  # type: ignore[method-assign]
    cache = Path(args.cache)
    for domain in [d.strip() for d in args.domains.split(",") if d.strip()]:
        if domain == "squad":
            pool, qs = squad_questions(args.squad_answerable, args.squad_unanswerable, args.seed,
                                       exclude=set(verifier_articles()[0]) if args.exclude_verifier_articles else ())
            if (cache / "squad" / "manifest.json").exists():
                index = HybridIndex.load(cache / "squad")
            else:
                index = build_context_index(pool)
                index.save(cache / "squad")
        else:
            if domain not in DOCS_CORPORA:
                raise SystemExit(f"unknown domain {domain!r}; use squad or one of {sorted(DOCS_CORPORA)}")
            folder = DOCS / DOCS_CORPORA[domain] / "docs"
            qs, index = docs_questions(domain, args.question_set), docs_index(folder, cache / domain)
        todo = [q for q in qs[: args.limit] if q["id"] not in done]
        print(f"{domain}: {len(qs)} questions, {len(todo)} to answer", file=sys.stderr, flush=True)
        if not todo:
            continue
        guard = Guard(args.verifier, embedder=index.embedder, threshold=1.0, reader=args.reader)  # every claim keeps its reasons
        pipe = Pipeline(index, gen, guard, policy="return", top_k=4)
        t0 = time.perf_counter()
        with out.open("a", encoding="utf-8") as f:
            for s in range(0, len(todo), args.batch_size):
                part = todo[s : s + args.batch_size]
                for q, a in zip(part, pipe.ask_batch([q["question"] for q in part])):
                    rec = dict(q, generated=a.generated, declined=a.verdict == "declined", right=right(q, a.generated),
                               grounded=bool(a.grounding), timings_ms=dict(a.timings), generator=gen.name,
                               claims=[{"text": c.text, "signals": dict(c.signals), "reasons": list(c.reasons)} for c in a.claims])
                    if args.score_decline:
                        rec["generation_confidence"] = confidence.get(q["question"].strip(), {})  # the pipeline asks it stripped
                    f.write(json.dumps(rec) + "\n")
                f.flush()
                n = min(s + args.batch_size, len(todo))
                print(f"{domain}: {n}/{len(todo)} ({(time.perf_counter() - t0) / n:.1f} s/question)", file=sys.stderr, flush=True)
    return 0


def current_golds(domain: str) -> dict[str, list[str]]:
    """The gold answers of every question of a documentation corpus, by id, from all its question files."""
    golds: dict[str, list[str]] = {}
    for path in sorted(DOCS.glob(f"{domain}_questions*.json")):
        for q in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            golds[q["id"]] = list(q["answers"])
    return golds


def rejudge(src: Path, out: Path, refresh_golds: bool = False) -> int:
    """The stored answers of ``src`` labelled again by :func:`right` (see ``--rejudge``), written to
    ``out``; with ``refresh_golds``, a documentation question's golds are first taken from its
    question file as it is now."""
    if out.resolve() == src.resolve():
        raise SystemExit(f"--out is the file being judged ({src}): write the relabelled answers to another file")
    recs = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = []
    golds: dict[str, dict[str, list[str]]] = {}
    mended: list[str] = []
    for r in recs:
        if refresh_golds and r["domain"] in DOCS_CORPORA:
            g = golds.setdefault(r["domain"], current_golds(r["domain"])).get(r["id"])
            if g is None:
                raise SystemExit(f"{r['domain']}:{r['id']} is in no {r['domain']}_questions*.json; rejudge without --refresh-golds")
            if g != r["answers"]:
                mended.append(f"{r['domain']}:{r['id']} golds {r['answers']} -> {g}")
                r["answers"] = g
        new = right(r, r["generated"])
        if new != r["right"]:
            changed.append(f"{r['domain']}:{r['id']} {r['right']} -> {new}")
            r["right"] = new
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    print(f"{len(recs)} answers, {len(changed)} relabelled" + (f", {len(mended)} with golds from the question files" if refresh_golds else "")
          + "".join(f"\n  {c}" for c in mended + changed), file=sys.stderr)
    return 0


def rescore(src: Path, out: Path, cache: Path, batch_size: int, verifier: str = "default", reader: str | None = "default",
            decline_margin: float | None = None) -> int:
    """The guard's signals and reasons again for stored answers (see ``--rescore``); with
    ``decline_margin``, the answers a generator with that margin declines become declines."""
    from groundqa.index import HybridIndex
    from groundqa.text import DECLINE
    from groundqa.verify.guard import Guard
    from groundqa.verify.scorers import GenerationScorer

    recs = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    if decline_margin is not None:
        near = [r for r in recs if not r["declined"] and r["claims"] and r["claims"][0]["signals"].get("gen_decline_gap", float("-inf")) > -decline_margin]
        for r in near:
            r.update(generated=DECLINE, declined=True, right=right(r, DECLINE), grounded=False, claims=[])
        print(f"decline margin {decline_margin}: {len(near)} more answers declined", file=sys.stderr, flush=True)
    by_domain: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        by_domain.setdefault(r["domain"], []).append(r)
    done: list[dict[str, Any]] = []
    for domain, rows in by_domain.items():
        index = HybridIndex.load(cache / domain)
        guard = Guard(verifier, embedder=index.embedder, threshold=1.0, reader=reader)
        for s in range(0, len(rows), batch_size):
            part = rows[s : s + batch_size]
            hits = index.search_batch([r["question"] for r in part], top_k=4)
            todo = [i for i, r in enumerate(part) if not r["declined"]]
            gen = [GenerationScorer.confidence_from(part[i]["claims"][0]["signals"]) if part[i]["claims"] else None for i in todo]
            judged = guard.verify_batch([(part[i]["question"], part[i]["generated"], hits[i]) for i in todo], generation=gen) if todo else []
            for i, res in zip(todo, judged):
                part[i] = dict(part[i], claims=[{"text": c.text, "signals": dict(c.signals), "reasons": list(c.reasons)} for c in res.claims])
            done.extend(part)
        print(f"{domain}: {len(rows)} answers judged again", file=sys.stderr, flush=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in done), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
