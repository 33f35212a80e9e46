"""Terminal chat with the groundqa service, streaming each sentence once the guard has judged it.

    groundqa serve --index my-index &
    python -m examples.support_bot.chat [--url http://127.0.0.1:8000] [--key KEY]
"""

from __future__ import annotations

import argparse
import sys

from .client import FALLBACK, GroundQAClient


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None)
    ap.add_argument("--key", default=None)
    ap.add_argument("--policy", default="strip", choices=["return", "flag", "strip", "abstain"])
    args = ap.parse_args()
    client = GroundQAClient(args.url, args.key, policy=args.policy)
    history: list[dict[str, str]] = []
    print("Ask a question (empty line to quit).")
    while True:
        try:
            q = input("you> ").strip()
        except EOFError:
            return 0
        if not q:
            return 0
        print("bot> ", end="", flush=True)
        shown = False
        for kind, data in client.stream(q, history):
            if kind == "sentence" and args.policy != "abstain":
                print(data, end=" ", flush=True)
                shown = True
            elif kind == "done":
                if not data.answered:
                    print(("\n     " if shown else "") + FALLBACK)
                else:
                    if not shown:
                        print(data.text, end="")
                    print("\n     sources: " + ", ".join(data.sources) if data.sources else "")
                history += [{"role": "user", "content": q}, {"role": "assistant", "content": data.text}]
    return 0


if __name__ == "__main__":
    sys.exit(main())
