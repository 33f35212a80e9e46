#!/usr/bin/env bash
# Learning curve / ROI report for the default adapter's recipe (issue 23): LoRA on
# Qwen2.5-Coder-0.5B-Instruct with generator05_train.sh's hyper-parameters, on nested seeded slices
# of the same training file (the 32 SQuAD training articles of benchmarks/generator05_data.py),
# evaluated with the base model on 30 questions of held-out documents (20% of those articles, never
# trained on). One epoch per point, one torch thread, resumable (rerun the same command).
#   nohup nice -n 10 bash recipes/curve_qwen05.sh > runs/curve_qwen05.log 2>&1 &
# Cost: --cost-per-hour 0.10 is an assumed price for a 2-vCPU cloud machine, not a measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
OUT=${OUT:-runs/curve_qwen05}
[ -f runs/squad_split/train_qwen05.json ] || python benchmarks/generator05_data.py
groundqa -v finetune --data runs/squad_split/train_qwen05.json --base qwen2.5-coder-0.5b --out "$OUT" --lora \
  --lr 6e-4 --batch-size 4 --grad-accum 2 --max-passage-words 56 --distractors 1,2 --unanswerable-rate 0.06 \
  --eval-steps 12 --dev-sample 8 --patience 3 --threads ${THREADS:-1} --seed 0 --no-progress \
  --curve ${CURVE:-8,16,32,64} --eval-questions 30 --eval-docs 0.2 --cost-per-hour ${PRICE:-0.10}
mkdir -p benchmarks/results/generator/curve_qwen05
cp "$OUT"/curve.md "$OUT"/curve.json "$OUT"/curve.png benchmarks/results/generator/curve_qwen05/
echo DONE
