#!/usr/bin/env bash
# Issue 21's held-out measurements with the shipped generator and calibration, one after another
# (each writes its JSON under benchmarks/results/; tables in docs/benchmark-history.md, "Issue 21"):
#   nohup bash benchmarks/issue21_runs.sh > runs/issue21_runs.log 2>&1 &
# The adapter before issue 21 is compared from runs/qwen05-previous (its files from git:
#   git show 0d692fd:src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora/FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
R=benchmarks/results
D=../shared/data
step() { echo "== $(date +%T) $*"; }
step demo
groundqa demo --json > $R/qa/demo_default.json
step docs-QA, Starlette held-out files
python benchmarks/docs_qa.py --generator default --split heldout --index-cache runs/calibration/index/starlette \
  --out $R/qa/docs_qa_starlette_heldout.json
step SQuAD v1.1 held-out, 100 questions
python benchmarks/qa_pipeline.py --data $D/squad_v1.1_dev/dev-v1.1.json --heldout --limit 100 --index-cache runs/index_squad11 \
  --json $R/qa/qa_squad11_heldout_default.json --report $R/qa/qa_squad11_report_default > /dev/null
step SQuAD v2.0 held-out, 200 questions
python benchmarks/qa_pipeline.py --data $D/squad_v2.0_dev/dev-v2.0.json --version 2.0 --heldout --limit 200 --index-cache runs/index_squad20 \
  --json $R/qa/qa_squad20_heldout_default.json --report $R/qa/qa_squad20_report_default > /dev/null
if [ "${SKIP_GENERATORS:-0}" != 1 ]; then
  step generators: gold paragraph, nothing relevant, topic only
  python benchmarks/generator_answers_eval.py --generator default --generator runs/qwen05-previous --generator qwen2.5-coder-0.5b \
    --limit ${GEN_LIMIT:-40} --json $R/generator/generator_answers_eval.json
fi
step DONE
