#!/usr/bin/env bash
# The new default fusion (weighted, z-score, bm25 0.4 / dense 0.6) through the index and the CLI, as
# a new user runs it, beside the old default (min-max, bm25 0.6 / dense 0.4) on the FAQ set of the
# issue. Needs benchmarks/beir_views.py's views in runs/views.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=benchmarks/results
export OMP_NUM_THREADS=1
groundqa bench retrieval --data runs/views/banking77_faq --no-progress --json "$OUT/retrieval_banking77_faq.json"
groundqa bench retrieval --data runs/views/banking77_faq --no-progress --norm minmax --weights bm25=0.6,dense=0.4 --json "$OUT/retrieval_banking77_faq_old_default.json"
groundqa bench retrieval --data "$DATA/cranfield/beir" --no-progress --json "$OUT/retrieval_cranfield_default_v2.json"
