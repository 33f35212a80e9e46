#!/usr/bin/env bash
# Full fine-tuning (all weights, no LoRA) of SmolLM2-135M on the same 36 training articles and the
# same example recipe as the shipped adapter (generator_run.sh), then its row on the first 100
# questions of the nested held-out sample. The model (540 MB) stays under runs/: too large to ship.
#   nohup nice -n 10 bash recipes/generator_full.sh > runs/generator_full.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ -f runs/squad_split/train36.json ] || python benchmarks/generator_split.py
OUTDIR=runs/smollm2-135m-squad-full
if [ ! -f "$OUTDIR/groundqa_card.json" ]; then
  groundqa -v finetune --data runs/squad_split/train36.json --base smollm2-135m --out "$OUTDIR" \
    --lr ${LR:-1e-4} --max-examples 1200 --max-steps 110 --batch-size 4 --grad-accum 2 --max-passage-words 64 \
    --distractors 1,2 --unanswerable-rate 0.12 --eval-steps 25 --dev-sample 30 --time-budget-min ${BUDGET_MIN:-45} \
    --threads 1 --seed 0 --no-progress
fi
OUT=benchmarks/results/generator/generator_qa_smollm2-135m-full.json
[ -f "$OUT" ] || groundqa bench qa --data runs/squad_split/heldout12.json --context gold --generator "$OUTDIR" \
  --distractors 2 --limit ${LIMIT:-100} --seed 0 --batch-size 8 --threads 1 --json "$OUT"
echo DONE
