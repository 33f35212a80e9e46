#!/usr/bin/env bash
# The rest of the generator rows after the LoRA row of generator_run.sh, sized for the session's CPU
# time: the base model on the first 100 questions of the same nested seeded sample, the quality
# profile on the first 20, then collect. Samples are nested, so the collector also scores every
# row on the same 100 / 20 questions.
#   nohup nice -n 10 bash recipes/generator_rest.sh > runs/generator_rest.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=benchmarks/results/generator/generator_qa_smollm2-135m.json
[ -f "$OUT" ] || groundqa bench qa --data runs/squad_split/heldout12.json --context gold --generator smollm2-135m \
  --distractors 2 --limit ${BASE_LIMIT:-100} --seed 0 --batch-size 8 --threads 1 --json "$OUT"
python benchmarks/generator_collect.py
bash recipes/generator_quality.sh
