#!/usr/bin/env bash
# Shipped adapters in int8 (issue 23): do the generators' answers change? The same held-out SQuAD
# v1.1 questions (last 12 articles, gold paragraph among 2 distractors, seeded sample) answered with
# the float16 adapter shipped before (commit 5c6b38d) and with the int8 one shipped now; then
# benchmarks/int8_compare.py counts the answers that differ.
#   N_FAST=30 N_DEFAULT=10 bash benchmarks/int8_generator_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1
D=../shared/data/squad_v1.1_dev/dev-v1.1.json
O=runs/int8_check
mkdir -p $O
for a in smollm2-135m-squad-lora qwen2.5-coder-0.5b-squad-lora; do
  mkdir -p $O/$a-fp16
  for f in README.md adapter_config.json adapter_model.safetensors groundqa_card.json; do
    git show 5c6b38d:src/groundqa/data/adapters/$a/$f > $O/$a-fp16/$f
  done
done
for spec in "fast smollm2-135m-squad-lora ${N_FAST:-30}" "default qwen2.5-coder-0.5b-squad-lora ${N_DEFAULT:-10}"; do
  set -- $spec
  [ "$3" -gt 0 ] || continue
  groundqa bench qa --data $D --articles last:12 --context gold --limit $3 --seed 0 --threads 1 \
    --generator $O/$2-fp16 --json $O/$1_fp16.json
  groundqa bench qa --data $D --articles last:12 --context gold --limit $3 --seed 0 --threads 1 \
    --generator $1 --json $O/$1_int8.json
  python benchmarks/int8_compare.py $O/$1_fp16.json $O/$1_int8.json | tee $O/$1_compare.txt
done
