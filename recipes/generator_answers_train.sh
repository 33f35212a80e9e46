#!/usr/bin/env bash
# The default generator's adapter, issue 21's recipe ("an adapter that answers"): continue the
# shipped LoRA adapter on SQuAD training articles (benchmarks/generator05_data.py with
# --unanswerable-share 0: no SQuAD v2 same-paragraph declines) with --decline-from other: the
# model answers whenever a shown passage holds the answer, and declines only when every shown
# passage is from another article (nothing shown is about the question). Unanswerable questions
# whose topic is shown are left to the guard. Resumable: rerun the same command.
#   nohup bash recipes/generator_answers_train.sh > runs/generator_answers_train.log 2>&1 &
# The second stage (issue 21, session 3) continues the first stage's step 17 with a quarter of the
# examples declines and keeps the checkpoint with the best mean of dev F1 and dev decline rate:
#   OUT=runs/qwen05-declines INIT=runs/qwen05-answers/checkpoints/checkpoint-17 UNANS=0.25 SELECT=f1+decline \
#   STEPS=16 BUDGET_MIN=70 nohup bash recipes/generator_answers_train.sh > runs/generator_declines_train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export GROUNDQA_KEEP_CHECKPOINTS=1
OUT=${OUT:-runs/qwen05-answers}
[ -f runs/squad_split/train_answer.json ] || python benchmarks/generator05_data.py --unanswerable-share 0 --out runs/squad_split/train_answer.json
# BASE picks the base model; INIT= (empty) trains from the bare model (recipes/generator15_answers_train.sh)
INIT=${INIT-src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora}
groundqa -v finetune --data runs/squad_split/train_answer.json --base ${BASE:-qwen2.5-coder-0.5b} --out "$OUT" --lora \
  ${INIT:+--init-adapter "$INIT"} --decline-from other \
  --lr ${LR:-3e-4} --max-examples ${EXAMPLES:-2000} --max-steps ${STEPS:-40} --batch-size 4 --grad-accum 2 --max-passage-words 48 \
  --distractors 1,3 --unanswerable-rate ${UNANS:-0.1} --eval-steps ${EVAL_STEPS:-8} --dev-sample 24 --patience 3 \
  --dev-unanswerable-rate ${DEV_UNANS:-${UNANS:-0.1}} --select-by ${SELECT:-f1} \
  --time-budget-min ${BUDGET_MIN:-75} --threads ${THREADS:-2} --seed 0 --no-progress
echo DONE
