#!/usr/bin/env bash
# The new default fusion (weighted, z-score, bm25 0.4 / dense 0.6) through the index and the CLI, as
# a new user runs it, beside the old default (min-max, bm25 0.6 / dense 0.4) on the FAQ set of the
# issue. Needs benchmarks/beir_views.py's views in runs/views. The runs are configs in
# benchmarks/configs/retrieval/ (each one `groundqa bench retrieval` with the flags written there).
set -euo pipefail
C=benchmarks/configs/retrieval
export OMP_NUM_THREADS=1
python benchmarks/run.py $C/banking77_faq.toml $C/banking77_faq_old_default.toml $C/cranfield_default_v2.toml
