#!/usr/bin/env bash
# Issue 21's held-out measurements with the shipped generator and calibration, one after another,
# each from its config (results in benchmarks/results/<suite>/, the schema of benchmarks/run.py):
#   nohup bash benchmarks/issue21_runs.sh > runs/issue21_runs.log 2>&1 &
# The generator comparison needs the adapter before issue 21 in runs/qwen05-previous (its files
# from git: git show 0d692fd:src/groundqa/data/adapters/qwen2.5-coder-0.5b-squad-lora/FILE); skip
# it with SKIP_GENERATORS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
C=benchmarks/configs
python benchmarks/run.py $C/qa/demo_default.toml $C/qa/docs_qa_starlette_heldout.toml \
  $C/qa/squad11_heldout_default.toml $C/qa/squad20_heldout_default.toml
if [ "${SKIP_GENERATORS:-0}" != 1 ]; then
  python benchmarks/run.py $C/generator/answers_eval.toml
fi
echo DONE
