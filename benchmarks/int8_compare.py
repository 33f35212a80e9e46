"""Compare two `groundqa bench qa --json` reports question by question (issue 23's int8 check).

    python benchmarks/int8_compare.py A.json B.json
"""

from __future__ import annotations

import json
import sys

a, b = (json.load(open(p)) for p in sys.argv[1:3])
ra, rb = ({r["id"]: r for r in x["records"]} for x in (a, b))
common = [i for i in ra if i in rb]
diff = [i for i in common if (ra[i]["prediction"], ra[i]["declined"]) != (rb[i]["prediction"], rb[i]["declined"])]
print(f"{len(common)} questions; answers that differ: {len(diff)}; EM {a['em']:.2f} -> {b['em']:.2f}, F1 {a['f1']:.2f} -> {b['f1']:.2f}")
for i in diff:
    print(f"  {i}: {ra[i]['prediction']!r} (F1 {ra[i]['f1']:.2f}) -> {rb[i]['prediction']!r} (F1 {rb[i]['f1']:.2f})")
