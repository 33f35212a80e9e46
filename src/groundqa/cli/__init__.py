"""The ``groundqa`` command line.

``build_parser()`` is testable on its own. Each command group lives in its own module of this
package and adds itself through ``register(subparsers, bench_subparsers)`` (``bench`` owns every ``bench``
subcommand); heavy imports happen
inside the command functions, so ``groundqa --help`` loads no model. Bad arguments exit with code 2
(``parser.error``); failures at run time print the error and exit with code 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

# Modules that add subcommands. A module that is missing (a stage not built yet) is skipped.
_COMMAND_MODULES = [
    "groundqa.cli.index",  # index build|add|delete|info, search
    "groundqa.cli.bench",  # bench retrieval|qa|guard
    "groundqa.cli.train",  # finetune, adapter-scale, train-verifier, calibrate
    "groundqa.cli.ask",  # demo, ask
    "groundqa.cli.serve",  # serve
    "groundqa.cli.review",  # review list|show|mark|export
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groundqa", description="Question answering that can prove what it says.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="benchmarks: retrieval, qa, guard")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    bench.set_defaults(func=lambda args: bench.print_help() or 2)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub, bench_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        # model-loading progress bars and tokenizer length notices are noise on a command line
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from ..errors import ConfigError, GroundQAError

    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        parser.exit(2, f"groundqa: error: {exc}\n")
    except GroundQAError as exc:
        print(f"groundqa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
