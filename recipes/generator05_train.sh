#!/usr/bin/env bash
# The default generator's adapter (issue 12): LoRA on Qwen2.5-Coder-0.5B-Instruct over the SQuAD
# training articles (benchmarks/generator05_data.py; unanswerable SQuAD v2 questions included),
# on a shared 2-core CPU, resumable (rerun the same command: it resumes from OUT/checkpoints).
#   nohup bash recipes/generator05_train.sh > runs/generator05_train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false GROUNDQA_KEEP_CHECKPOINTS=1
OUT=${OUT:-runs/qwen05-lora}
[ -f runs/squad_split/train_qwen05.json ] || python benchmarks/generator05_data.py
groundqa -v finetune --data runs/squad_split/train_qwen05.json --base qwen2.5-coder-0.5b --out "$OUT" --lora \
  --lr 6e-4 --max-examples 2000 --max-steps ${STEPS:-48} --batch-size 4 --grad-accum 2 --max-passage-words 56 \
  --distractors 1,2 --unanswerable-rate 0.06 --eval-steps 12 --dev-sample 24 --patience 3 \
  --time-budget-min ${BUDGET_MIN:-82} --threads ${THREADS:-2} --seed 0 --no-progress
echo DONE
