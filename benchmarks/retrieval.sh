#!/usr/bin/env bash
# Retrieval benchmark (issue 2, section 6): the runs behind benchmarks/results/retrieval/retrieval_*.json.
# Run from the repository root with the venv active. Data: ../shared/data (BEIR folders).
# Each step takes a few minutes on 2 CPU cores (embedding the corpus and the queries with MiniLM).
# Every `groundqa bench retrieval` run is a config in benchmarks/configs/retrieval/ (its flags, field by field).
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=benchmarks/results/retrieval
C=benchmarks/configs/retrieval
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# 1. The first default fusion (RRF, k=60, equal weights), all queries (now: --fusion rrf).
python benchmarks/run.py $C/cranfield_rrf.toml $C/squad_rrf.toml

# 2. Tune fusion on the even half of the queries (2nd, 4th, ... in file order).
python benchmarks/tune_fusion.py --data "$DATA/cranfield/beir"      --split even --json "$OUT/retrieval_fusion_tuning_cranfield.json"
python benchmarks/tune_fusion.py --data "$DATA/squad_v1.1_dev/beir" --split even --json "$OUT/retrieval_fusion_tuning_squad.json"

# 3. Report on the odd half with the setting chosen on the even half
#    (the "best" entry of each tuning file: weighted min-max fusion, bm25/dense weights in the configs).
python benchmarks/run.py $C/cranfield_odd_tuned.toml $C/squad_odd_tuned.toml

# 4. The library default from then until issue 14: weighted min-max fusion, bm25 0.6 / dense 0.4 (the
#    setting with the best worst-case margin on the two tuning halves). Held-out (odd) halves, then all
#    queries. (Issue 14's default, z-score 0.4 / 0.6, is benchmarks/fusion_lodo.py and retrieval_default_check.sh.)
python benchmarks/run.py $C/cranfield_odd_default.toml $C/squad_odd_default.toml $C/cranfield.toml $C/squad.toml
