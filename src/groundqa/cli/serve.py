"""``groundqa serve``: the HTTP service (``groundqa.serve``)."""

from __future__ import annotations

import argparse
import ipaddress
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
