#!/usr/bin/env bash
# Issue 21, twelfth session: the 1.5B candidate "accurate" as one generator folder,
# runs/qwen15-accurate: the adapter of recipes/generator15_answers_train.sh (runs/qwen15-answers)
# stored as int8, with the card (its decline margin), hidden-state probe and guard calibration
# committed here. Measured and not shipped (docs/benchmark-history.md, "Issue 21, twelfth
# session"); its held-out configs (benchmarks/configs/qa/*_accurate.toml) read this folder:
#   bash recipes/generator15_answers_train.sh      # about 45 minutes on 2 cores, see its header
#   bash recipes/qwen15_accurate/assemble.sh
#   python benchmarks/run.py benchmarks/configs/qa/demo_accurate.toml
# CAL=groundqa_calibration_docs5.json OUT=runs/qwen15-accurate-docs5 builds the second candidate (its
# calibration fitted and thresholded on all five documentation corpora: threshold_transfer.py).
# CAL=groundqa_calibration_more.json PROBE=groundqa_probe_more.json OUT=runs/qwen15-accurate-more builds
# the third (fourteenth session: probe and calibration refitted with the 200 further documentation
# questions answered).
# `--generator runs/qwen15-accurate` loads it; the guard then scores with its
# groundqa_calibration.json (Guard.use_generator_calibration), not the default generator's.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${SRC:-runs/qwen15-answers}
OUT=${OUT:-runs/qwen15-accurate}
HERE=recipes/qwen15_accurate
CAL=${CAL:-groundqa_calibration.json}
PROBE=${PROBE:-groundqa_probe.json}
[ -f "$SRC/adapter_model.safetensors" ] || { echo "no $SRC/adapter_model.safetensors: run recipes/generator15_answers_train.sh first" >&2; exit 1; }
. scripts/env.sh
mkdir -p "$OUT"
cp "$SRC/adapter_config.json" "$OUT/"
cp "$HERE/groundqa_card.json" "$HERE/README.md" "$OUT/"
cp "$HERE/$PROBE" "$OUT/groundqa_probe.json"
cp "$HERE/$CAL" "$OUT/groundqa_calibration.json"
python -c "from groundqa.int8store import convert_file; print(convert_file('$SRC/adapter_model.safetensors', '$OUT/adapter_model.int8.safetensors'))"
