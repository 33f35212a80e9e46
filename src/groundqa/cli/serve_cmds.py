"""``groundqa serve`` (the HTTP service) and ``groundqa review`` (the audit log's review loop)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any, bench_sub: Any) -> None:
    s = sub.add_parser("serve", help="run the HTTP service (ask, ingest, health, metrics)")
    s.add_argument("--index", default=None, help="index folder (created on first ingest if it does not exist)")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    s.add_argument("--config", default=None, help="TOML config: pipeline sections plus a [serve] table (keys, limits, paths)")
    s.add_argument("--hash-key", default=None, metavar="KEY", help="print the sha256 to put in [[serve.api_keys]] for KEY, and exit")
    s.add_argument("--openapi", default=None, metavar="OUT.json", help="write the OpenAPI schema to OUT.json and exit")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=_serve)

    r = sub.add_parser("review", help="review flagged answers from the service's audit log")
    rsub = r.add_subparsers(dest="review_command", metavar="ACTION")
    r.set_defaults(func=lambda args: r.print_help() or 2)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--audit", required=True, help="the audit log (SQLite), e.g. INDEX.serve/audit.sqlite")

    lst = rsub.add_parser("list", help="list flagged or withheld answers")
    common(lst)
    lst.add_argument("--status", default="pending", choices=["pending", "reviewed", "all"])
    lst.add_argument("--all-answers", action="store_true", help="include answers the guard passed")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_review_list)

    show = rsub.add_parser("show", help="show one answer: claims, scores, passages")
    common(show)
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_review_show)

    mark = rsub.add_parser("mark", help="mark an answer correct as is, or give the corrected answer")
    common(mark)
    mark.add_argument("id", type=int)
    g = mark.add_mutually_exclusive_group(required=True)
    g.add_argument("--correct", action="store_true", help="the answer is correct as is")
    g.add_argument("--answer", default=None, help="the corrected answer")
    mark.add_argument("--unsupported-claims", default=None, metavar="I,J", help="claim indices that were wrong (default with --answer: the ones the guard flagged)")
    mark.add_argument("--reviewer", default=None)
    mark.add_argument("--note", default=None)
    mark.set_defaults(func=_review_mark)

    exp = rsub.add_parser("export", help="export reviewed answers as fine-tuning data and verifier pairs (JSONL)")
    common(exp)
    exp.add_argument("--finetune", default=None, metavar="OUT.jsonl", help="{question, answer, contexts} per reviewed answer")
    exp.add_argument("--verifier", default=None, metavar="OUT.jsonl", help="{claim, evidence, label} pairs (1 supported, 0 not)")
    exp.set_defaults(func=_review_export)


def _serve(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..serve.settings import ServeSettings, hash_key, split_config

    if args.hash_key is not None:
        print(hash_key(args.hash_key))
        return 0
    if args.openapi is not None:
        from ..serve.app import write_openapi

        print(f"wrote {write_openapi(args.openapi)}")
        return 0
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port} is not valid; choose 1..65535")
    serve_table: dict[str, Any] = {}
    if args.config:
        from ..serve.app import _read_toml

        _, serve_table = split_config(_read_toml(Path(args.config)))
    if args.index is None and "index_dir" not in serve_table:
        raise ConfigError("--index DIR is required (or index_dir in the [serve] table)")
    settings = ServeSettings.from_mapping(serve_table, index_dir=args.index)
    if not settings.api_keys and not _is_loopback(args.host):
        raise ConfigError(f"--host {args.host} is not a loopback address and no API keys are configured; add [[serve.api_keys]] to the --config file (see `groundqa serve --hash-key`)")
    try:
        import uvicorn

        from ..serve.app import check_state, create_app
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the service needs the serve extra ({exc.name} is missing): pip install 'groundqa[serve]'") from exc
    check_state(settings)  # a damaged journal or audit log, a missing index folder: refused before models load
    app = create_app(settings=settings, config=args.config)
    if not settings.api_keys:
        print("groundqa serve: no API keys configured: every request is allowed (loopback only)", file=sys.stderr)
    audit = settings.resolved_audit_path()
    print(
        f"groundqa serve: every question, answer and the guard's verdicts are recorded in the audit log {audit} "
        f"(review them with `groundqa review list --audit {audit}`; move it with audit_path in the [serve] table)",
        file=sys.stderr,
    )
    from ..serve.protocol import header_timeout_protocol

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, http=header_timeout_protocol(settings.header_timeout_s))
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    rows = log.list(status=args.status, flagged_only=not args.all_answers, limit=args.limit)
    if args.json:
        print(json.dumps([_summary(r) for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("nothing to review")
        return 0
    for r in rows:
        s = _summary(r)
        print(f"#{s['id']:<5} {s['verdict']:<10} support={s['support']:.2f} {s['review'] or 'pending':<9} {printable(s['question'][:70])}")
    return 0


def _summary(r: Any) -> dict[str, Any]:
    return {"id": r.id, "time": r.time, "question": r.question, "verdict": r.verdict, "support": r.support, "review": r.review_status, "unsupported_claims": sum(c.get("verdict") != "supported" for c in r.claims)}


def _review_show(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    rec = _audit(args).get(args.id)
    if rec is None:
        raise ConfigError(f"answer id {args.id} is not in {args.audit}; list ids with `groundqa review list`")
    if args.json:
        print(json.dumps(rec.to_dict(), indent=2, ensure_ascii=False))
        return 0
    from ..text import printable as e  # document text and ids reach the terminal escaped

    print(f"#{rec.id}  verdict: {e(rec.verdict)}  policy: {e(rec.policy)}  support: {rec.support:.3f}  review: {e(rec.review_status or 'pending')}")
    print(f"question: {e(rec.question)}" + (f"\n  rewritten: {e(rec.rewritten)}" if rec.rewritten else ""))
    print(f"answer:   {e(rec.answer, newlines=True)}")
    if rec.generated and rec.generated != rec.answer:
        print(f"generated: {e(rec.generated, newlines=True)}")
    if rec.reason:
        print(f"reason:   {e(rec.reason)}")
    print("claims:")
    for i, c in enumerate(rec.claims):
        print(f"  [{i}] {e(c.get('verdict')):<11} p={c.get('probability', 0):.3f}  {e(c.get('text'))}")
    print("passages:")
    for p in rec.passages:
        print(f"  [{p.get('rank')}] {e(p.get('doc_id'))} ({p.get('start')}-{p.get('end')}): {e(str(p.get('text', ''))[:150])}")
    if rec.corrected_answer:
        print(f"corrected: {e(rec.corrected_answer, newlines=True)}")
    return 0


def _review_mark(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    claims = None
    if args.unsupported_claims is not None:
        try:
            claims = [int(x) for x in args.unsupported_claims.split(",") if x.strip()]
        except ValueError as exc:
            raise ConfigError(f"--unsupported-claims {args.unsupported_claims!r} is not valid; pass claim indices like 0,2") from exc
    rec = _audit(args).mark(args.id, correct=args.correct, corrected_answer=args.answer, unsupported_claims=claims, reviewer=args.reviewer, note=args.note)
    print(f"#{rec.id} marked {rec.review_status}")
    return 0


def _review_export(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    if not args.finetune and not args.verifier:
        raise ConfigError("pass --finetune OUT.jsonl and/or --verifier OUT.jsonl")
    log = _audit(args)
    for path, rows in ((args.finetune, log.finetune_examples if args.finetune else None), (args.verifier, log.verifier_pairs if args.verifier else None)):
        if not path:
            continue
        data = rows()  # type: ignore[misc]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            for row in data:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {len(data)} rows to {path}")
    return 0
