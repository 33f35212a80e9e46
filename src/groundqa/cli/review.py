"""``groundqa review``: the review loop over the service's audit log (``groundqa.serve.audit``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any, bench_sub: Any) -> None:
    r = sub.add_parser("review", help="review flagged answers from the service's audit log")
    rsub = r.add_subparsers(dest="review_command", metavar="ACTION")
    r.set_defaults(func=lambda args: r.print_help() or 2)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--audit", required=True, help="the audit log (SQLite), e.g. INDEX.serve/audit.sqlite")

    lst = rsub.add_parser("list", help="list flagged or withheld answers (--declined: the ones the service did not give)")
    common(lst)
    lst.add_argument("--status", default="pending", choices=["pending", "reviewed", "all"])
    lst.add_argument("--declined", action="store_true",
                     help="list only the answers the service did not give: declined by the generator, or withheld before any claim "
                     "was checked (no relevant passage). A wrong decline shows up only here")
    lst.add_argument("--all-answers", action="store_true",
                     help="list every answer: passed, flagged, withheld and declined (default: only those the guard flagged or withheld)")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_review_list)

    show = rsub.add_parser("show", help="show one answer: claims, scores, whole passages with the cited sentences marked")
    common(show)
    show.add_argument("id", type=_answer_id, help="the answer id `review list` prints (5 or '#5')")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_review_show)

    mark = rsub.add_parser("mark", help="mark an answer correct as is, or give the corrected answer")
    common(mark)
    mark.add_argument("id", type=_answer_id, help="the answer id `review list` prints (5 or '#5')")
    g = mark.add_mutually_exclusive_group(required=True)
    g.add_argument("--correct", action="store_true", help="the answer is correct as is (a decline marked correct trains the decline)")
    g.add_argument("--answer", default=None,
                   help="the corrected answer; best quoted from a passage (mark says whether it is in one, and offers the nearest span)")
    mark.add_argument("--unsupported-claims", default=None, metavar="I,J", help="claim indices that were wrong (default with --answer: the ones the guard flagged)")
    mark.add_argument("--reviewer", default=None)
    mark.add_argument("--note", default=None)
    mark.set_defaults(func=_review_mark)

    exp = rsub.add_parser("export", help="export reviewed answers as fine-tuning data and verifier pairs (JSONL)")
    common(exp)
    exp.add_argument("--finetune", default=None, metavar="OUT.jsonl",
                     help="{question, answer, context, contexts, doc_id} per reviewed answer, for `groundqa finetune --data`")
    exp.add_argument("--verifier", default=None, metavar="OUT.jsonl",
                     help="{claim, evidence, label} pairs (1 supported, 0 not), for `groundqa train-verifier --pairs`")
    exp.add_argument("--unmatched", default="span", choices=["span", "skip"],
                     help="a reviewed answer that is in none of its passages word for word: train on the passage span that "
                     "matches it best (default; rows with no such span are skipped) or skip it. Skipped rows are listed")
    exp.set_defaults(func=_review_export)


def _answer_id(text: str) -> int:
    try:
        n = int(text.strip().lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an answer id; pass the number `groundqa review list` prints, e.g. 5 or '#5'")
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an answer id; ids are positive numbers, e.g. 5 or '#5'")
    return n


def _audit(args: argparse.Namespace) -> Any:
    from ..errors import ConfigError
    from ..serve.audit import AuditLog

    path = Path(args.audit)
    if not path.exists():
        raise ConfigError(f"--audit {path} does not exist; the service writes it to INDEX.serve/audit.sqlite by default")
    return AuditLog(path)


def _review_list(args: argparse.Namespace) -> int:
    from ..text import printable

    log = _audit(args)
    rows = log.list(status=args.status, flagged_only=not args.all_answers, limit=args.limit, declined=args.declined)
    if args.json:
        print(json.dumps([_summary(r) for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("nothing to review")
    for r in rows:
        s = _summary(r)
        support = "n/a " if s["support"] is None else f"{s['support']:.2f}"
        print(f"#{s['id']:<5} {s['verdict']:<10} support={support} {s['review'] or 'pending':<9} {printable(s['question'][:70])}")
    if not args.declined and not args.all_answers:
        hidden = log.count_declined(status=args.status)
        if hidden:
            print(f"({hidden} declined or withheld-before-checking answer(s) not listed: `groundqa review list --audit {printable(args.audit)} --declined` lists them)")
    return 0


def _support(r: Any) -> float | None:
    """The weakest claim's support, or None where nothing was checked (a decline, a withhold
    before generation): the stored value there means nothing."""
    return None if r.verdict == "declined" or not r.claims else r.support


def _summary(r: Any) -> dict[str, Any]:
    return {"id": r.id, "time": r.time, "question": r.question, "verdict": r.verdict, "support": _support(r), "review": r.review_status,
            "unsupported_claims": sum(c.get("verdict") != "supported" for c in r.claims)}


def _review_show(args: argparse.Namespace) -> int:
    import textwrap
    import time as _time

    from ..errors import ConfigError
    from ..serve.audit import training_target

    rec = _audit(args).get(args.id)
    if rec is None:
        raise ConfigError(f"answer id {args.id} is not in {args.audit}; list ids with `groundqa review list`")
    if args.json:
        print(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
        return 0
    from ..text import printable as e  # document text and ids reach the terminal escaped

    support = "n/a" if _support(rec) is None else f"{rec.support:.3f}"
    print(f"#{rec.id}  verdict: {e(rec.verdict)}  policy: {e(rec.policy)}  support: {support}  review: {e(rec.review_status or 'pending')}")
    print(f"question: {e(rec.question)}" + (f"\n  rewritten: {e(rec.rewritten)}" if rec.rewritten else ""))
    print(f"answer:   {e(rec.answer, newlines=True)}")
    if rec.generated and rec.generated != rec.answer:
        print(f"generated: {e(rec.generated, newlines=True)}")
    if rec.reason:
        print(f"reason:   {e(rec.reason)}")
    rank_of = {p.get("id"): p.get("rank") for p in rec.passages}
    print("claims:" if rec.claims else "claims:   none checked")
    for i, c in enumerate(rec.claims):
        print(f"  [{i}] {e(c.get('verdict')):<11} p={c.get('probability', 0):.3f}  {e(c.get('text'))}")
        cit = c.get("citation") or {}
        if cit.get("text"):
            where = f"passage [{rank_of.get(cit.get('chunk_id'), cit.get('passage_rank') or '?')}] {e(cit.get('doc_id'))}"
            print(f"      cited: {where}: {e(cit.get('text'))}")
    print("passages (>>> cited sentence <<<):" if any((c.get("citation") or {}).get("text") for c in rec.claims) else "passages:")
    for p in rec.passages:
        print(f"  [{p.get('rank')}] {e(p.get('doc_id'))} ({p.get('start')}-{p.get('end')}), score {float(p.get('score') or 0):.3f}")
        text = _mark_cited(p, rec.claims)
        for para in text.split("\n"):  # only newlines break lines: a carriage return is shown escaped
            print(textwrap.fill(e(para), width=100, initial_indent="      ", subsequent_indent="      ") if para.strip() else "")
    if rec.review_status:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.gmtime(rec.reviewed_at)) + " UTC" if rec.reviewed_at else ""
        print(f"review:   {e(rec.review_status)}" + (f" by {e(rec.reviewer)}" if rec.reviewer else "") + (f", {when}" if when else ""))
        if rec.corrected_answer is not None:
            print(f"corrected: {e(rec.corrected_answer, newlines=True)}")
        if rec.review_note:
            print(f"note:     {e(rec.review_note)}")
    t = training_target(rec, args.audit)
    lead = "trains on:" if rec.review_status else "if marked --correct, trains on:"
    print(f"{lead} {e(_describe_target(t, rec), newlines=True)}")
    return 0


def _mark_cited(p: dict[str, Any], claims: list[dict[str, Any]]) -> str:
    """The passage text with each claim's cited sentence between >>> and <<<, tagged with the claim."""
    text = str(p.get("text", ""))
    base = p.get("start") or 0
    marks: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(claims):
        cit = c.get("citation") or {}
        if not cit.get("text") or (cit.get("chunk_id") and cit.get("chunk_id") != p.get("id")):
            continue
        s, e = int(cit.get("start", 0)) - base, int(cit.get("end", 0)) - base
        if not (0 <= s < e <= len(text)) or text[s:e] != cit["text"]:
            k = text.find(cit["text"])  # offsets of another document version: find the text itself
            if k < 0:
                continue
            s, e = k, k + len(cit["text"])
        marks.setdefault((s, e), []).append(i)
    for (s, e), idx in sorted(marks.items(), reverse=True):
        tag = ",".join(str(i) for i in idx)
        text = f"{text[:s]}>>> {text[s:e]} <<< (claim {tag}){text[e:]}"
    return text


def _describe_target(t: Any, rec: Any) -> str:
    where = ""
    if t.passage is not None and rec.passages:
        p = rec.passages[t.passage]
        where = f"passage [{p.get('rank')}] {p.get('doc_id')}"
    if t.kind == "reviewed":
        return f"{t.text!r}, in {where} word for word"
    if t.kind == "nearest_span":
        return f"{t.text!r}, the span of {where} nearest to {t.reviewed!r} (token F1 {t.score:.2f})"
    if t.kind == "decline":
        return "the decline sentence (the documents do not answer this)"
    return f"nothing: {t.reason}"


def _review_mark(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..serve.audit import training_target

    claims = None
    if args.unsupported_claims is not None:
        try:
            claims = [int(x) for x in args.unsupported_claims.split(",") if x.strip()]
        except ValueError as exc:
            raise ConfigError(f"--unsupported-claims {args.unsupported_claims!r} is not valid; pass claim indices like 0,2") from exc
    rec = _audit(args).mark(args.id, correct=args.correct, corrected_answer=args.answer, unsupported_claims=claims, reviewer=args.reviewer, note=args.note)
    print(f"#{rec.id} marked {rec.review_status}")
    t = training_target(rec, args.audit)
    if t.kind == "reviewed":
        print(f"found in a passage: `groundqa review export` trains on {_describe_target(t, rec)}")
    elif t.kind == "nearest_span":
        print(f"not found in any passage word for word. The nearest passage span is {_describe_target(t, rec)};")
        print("`groundqa review export` trains on that span (your words stay in the row as reviewed_answer). Check it: if it is not "
              f"what you meant, mark the answer again with words copied from a passage (`groundqa review show --audit {args.audit} {rec.id}` "
              "prints them); to keep the span as your answer:")
        print(f"    groundqa review mark --audit {args.audit} {rec.id} --answer {_quote(t.text)}")
    elif t.kind == "decline":
        print("`groundqa review export` trains the decline sentence for this question (the documents do not answer it)")
    elif not rec.passages:
        print(f"{t.reason}. `groundqa review export` will skip this answer.")
    else:
        print(f"not found in any passage: {t.reason}. `groundqa review export` will skip this answer.")
        if t.passage is not None and t.score > 0:
            p = rec.passages[t.passage]
            nearest = str(p.get("text", ""))[t.start : t.end]
            print(f"    groundqa review mark --audit {args.audit} {rec.id} --answer {_quote(nearest)}   # the nearest span")
    return 0


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _review_export(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    if not args.finetune and not args.verifier:
        raise ConfigError("pass --finetune OUT.jsonl and/or --verifier OUT.jsonl")
    log = _audit(args)
    if args.finetune:
        exp = log.finetune_export(unmatched=args.unmatched)
        _write_jsonl(args.finetune, exp.rows)
        n = exp.counts()
        print(f"wrote {n['rows']} rows to {args.finetune}: {n['reviewed']} with the reviewed answer, {n['nearest_span']} with the "
              f"passage span nearest to it (the reviewed answer is in no passage word for word), {n['decline']} decline(s) marked correct; "
              f"{n['skipped']} skipped")
        for r in exp.rows:
            if r["target"] == "nearest_span":
                print(f"  #{r['id']}: trains on {r['answer']!r} for {r['reviewed_answer']!r} (token F1 {r['span_f1']:.2f})")
        for sk in exp.skipped:
            print(f"  skipped #{sk['id']} ({sk['question'][:60]}): {sk['reason']}")
    if args.verifier:
        pairs = log.verifier_pairs()
        _write_jsonl(args.verifier, pairs)
        pos = sum(p["label"] for p in pairs)
        print(f"wrote {len(pairs)} pairs to {args.verifier}: {pos} supported (label 1), {len(pairs) - pos} not (label 0)")
    return 0


def _write_jsonl(path: str, rows: list[dict[str, Any]]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
