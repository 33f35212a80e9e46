#!/usr/bin/env bash
# The `quality` profile (Qwen2.5-Coder-1.5B-Instruct, bf16) on the first 100 questions of the held-out
# sample (nested in the 200-question sample of generator_run.sh); about 75 minutes on a shared CPU.
#   nohup nice -n 10 bash recipes/generator_quality.sh > runs/generator_quality.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
groundqa bench qa --data runs/squad_split/heldout12.json --context gold --generator quality \
  --distractors 2 --limit ${LIMIT:-100} --seed 0 --batch-size 4 --threads 1 --json benchmarks/results/generator/generator_qa_quality.json
python benchmarks/generator_collect.py
