#!/usr/bin/env bash
# Learning curve / ROI report for the `fast` profile's recipe (issue 23): LoRA on SmolLM2-135M with
# the shipped fast adapter's hyper-parameters (lr 1e-3, 64-word passages, 12% unanswerable), on the
# same training file, held-out documents and 30 evaluation questions as curve_qwen05.sh.
#   nohup nice -n 10 bash recipes/curve_fast.sh > runs/curve_fast.log 2>&1 &
# Cost: --cost-per-hour 0.10 is an assumed price for a 2-vCPU cloud machine, not a measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
OUT=${OUT:-runs/curve_fast}
[ -f runs/squad_split/train_qwen05.json ] || python benchmarks/generator05_data.py
groundqa -v finetune --data runs/squad_split/train_qwen05.json --base smollm2-135m --out "$OUT" --lora \
  --lr 1e-3 --batch-size 4 --grad-accum 2 --max-passage-words 64 --distractors 1,2 --unanswerable-rate 0.12 \
  --eval-steps 25 --dev-sample 8 --patience 3 --threads ${THREADS:-1} --seed 0 --no-progress \
  --curve ${CURVE:-8,16,32,64,128} --eval-questions 30 --eval-docs 0.2 --cost-per-hour ${PRICE:-0.10}
mkdir -p benchmarks/results/generator/curve_fast
cp "$OUT"/curve.md "$OUT"/curve.json "$OUT"/curve.png benchmarks/results/generator/curve_fast/
echo DONE
