#!/usr/bin/env bash
# PubMedQA for issue 3: LoRA fine-tune of SmolLM2-135M on the 500 non-test PQA-L items (dev split
# by document inside them), then yes/no/maybe accuracy of base and fine-tuned on the 500 test ids.
#   nohup nice -n 10 bash recipes/pubmedqa_run.sh > runs/pubmedqa_run.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ -f runs/pubmedqa/train.jsonl ] || python benchmarks/pubmedqa.py prepare
OUTDIR=runs/smollm2-135m-pubmedqa-lora
if [ ! -f "$OUTDIR/groundqa_card.json" ]; then
  groundqa -v finetune --data runs/pubmedqa/train.jsonl --base smollm2-135m --out "$OUTDIR" --lora \
    --lr 1e-3 --epochs 1 --batch-size 4 --grad-accum 2 --distractors 0,0 --unanswerable-rate 0 \
    --max-passage-words 0 --dev-docs 0.1 --dev-sample 20 --eval-steps 20 --time-budget-min ${BUDGET_MIN:-35} \
    --threads 1 --seed 0 --no-progress
fi
for GEN in smollm2-135m "$OUTDIR"; do
  OUT=benchmarks/results/generator/pubmedqa_$(basename "$GEN").json
  [ -f "$OUT" ] || python benchmarks/pubmedqa.py eval --generator "$GEN" --json "$OUT"
done
python benchmarks/pubmedqa.py collect
echo DONE
