#!/usr/bin/env bash
# Choosing the shipped adapter's scale on DEV data (the 4 dev articles the fine-tuning held out of
# training, inside the 36 training articles; never the 12 held-out articles): dev F1 of the adapter
# at update scale 1.0, 0.75 and 0.5 (gold paragraph among 2 distractors, 60 questions), beside the
# perplexity each scale gives on the general text (written by `groundqa adapter-scale` in its card).
#   nohup nice -n 10 bash recipes/adapter_scale.sh > runs/adapter_scale.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
A=src/groundqa/data/adapters/smollm2-135m-squad-lora
python - <<'PY'
import json
card = json.load(open("src/groundqa/data/adapters/smollm2-135m-squad-lora/groundqa_card.json"))
dev = set(card["data"]["dev_documents"])
d = json.load(open("runs/squad_split/train36.json"))
json.dump({"version": d.get("version", ""), "data": [a for a in d["data"] if a["title"] in dev]}, open("runs/squad_split/dev4.json", "w"))
PY
for S in 0.5 0.75; do
  [ -d runs/lora_s${S/./} ] || groundqa adapter-scale $A --scale $S --out runs/lora_s${S/./} --note candidate
done
for G in runs/lora_s05 runs/lora_s075 $A; do
  OUT=runs/adapter_scale_dev_$(basename $G).json
  [ -f "$OUT" ] || groundqa bench qa --data runs/squad_split/dev4.json --context gold --generator $G \
    --distractors 2 --limit ${LIMIT:-60} --seed 0 --batch-size 8 --threads 1 --json "$OUT"
done
python - <<'PY'
import json, glob
for f in sorted(glob.glob("runs/adapter_scale_dev_*.json")):
    r = json.load(open(f)); print(f"{f}: n {r['n']} EM {r['em']} F1 {r['f1']} answered {r['answered_rate']}")
PY
echo DONE
