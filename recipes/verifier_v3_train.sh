#!/usr/bin/env bash
# Verifier v3 (issue 21): the shipped v2 cross-encoder trained further on answers read with their
# question (SQuAD v2.0 articles no benchmark reports on and the calibration set does not use:
# benchmarks/verifier_v3_data.py), then measured against v2 on held-out pairs. Run from the project
# root with the venv active. CPU: about 25 minutes of training on a shared 2-core machine (734
# steps of 16 pairs, one torch thread); rerun the same command to resume from the last checkpoint.
set -euo pipefail
R=runs/verifier_v3
O=benchmarks/results/guard
python recipes/verifier_v2_data.py --out runs/verifier_v2/data                      # the replay sample's source
python benchmarks/verifier_v3_data.py --replay runs/verifier_v2/data/train.jsonl --out $R/data
groundqa train-verifier --output $R/ckpt --base default --pairs $R/data/train.jsonl \
    --max-length 256 --batch-size 16 --lr 3e-5 --epochs 1 --save-steps 100 --threads 1 --seed 0
python - <<'PY'
import json
from pathlib import Path
from groundqa.int8store import convert_file
from groundqa.train.verifier import export_fp16
R = Path("runs/verifier_v3")
out = export_fp16(R / "ckpt" / "final", R / "model", {"data": json.loads((R / "data" / "data.json").read_text()),
                  "train": json.loads((R / "ckpt" / "train_summary.json").read_text())}, name="groundqa-verifier-minilm-l6-v3")
convert_file(out / "model.safetensors", remove=True)  # int8 rows with a float32 scale each, as shipped (issue 23)
PY
# held-out pairs: the two validation articles of the new data, and v2's own validation pairs (FactCG, SNLI)
for v in default $R/model; do
    n=$( [ "$v" = default ] && echo v2 || echo v3 )
    python benchmarks/guard_eval_pairs.py --verifier $v --pairs $R/data/val.jsonl --json $O/guard_v3_val_squad_$n.json
    python benchmarks/guard_eval_pairs.py --verifier $v --pairs runs/verifier_v2/data/val.jsonl --json $O/guard_v3_val_v2data_$n.json
done
python benchmarks/legacy.py   # the four result files get the result schema (name, config, commit, ...)
