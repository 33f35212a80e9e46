#!/usr/bin/env bash
# The generator benchmark of issue 3, run in the background on a shared 2-core CPU:
# LoRA fine-tune of SmolLM2-135M on the 36 training articles (the shipped adapter), then EM/F1 of the
# fine-tuned model (`fast` profile) on a seeded 200-question sample of the 12 held-out articles.
# generator_rest.sh adds the base and quality rows.
#   nohup nice -n 10 bash recipes/generator_run.sh > runs/generator_run.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ -f runs/squad_split/train36.json ] || python benchmarks/generator_split.py
ADAPTER=src/groundqa/data/adapters/smollm2-135m-squad-lora
if [ ! -f "$ADAPTER/groundqa_card.json" ]; then
  groundqa -v finetune --data runs/squad_split/train36.json --base smollm2-135m --out "$ADAPTER" --lora \
    --lr 1e-3 --max-examples 1200 --max-steps 110 --batch-size 4 --grad-accum 2 --max-passage-words 64 \
    --distractors 1,2 --unanswerable-rate 0.12 --eval-steps 25 --dev-sample 30 --time-budget-min ${BUDGET_MIN:-70} \
    --threads 1 --seed 0 --no-progress
fi
for GEN in fast; do  # the shipped adapter (scaled x0.75 after training, see its card)
  OUT=benchmarks/results/generator/generator_qa_${GEN}.json
  [ -f "$OUT" ] || groundqa bench qa --data runs/squad_split/heldout12.json --context gold --generator $GEN \
    --distractors 2 --limit 200 --seed 0 --batch-size 8 --threads 1 --json "$OUT"
done
echo DONE
