#!/usr/bin/env bash
# Guard v2 (issue 13): the cross-encoder retrained on real claim data, and the 0.5B judge, measured.
# Run from the project root with the venv active. CPU: about 65 min of training on a shared 2-core
# machine (460 steps of 16 pairs, one torch thread), then the benches below.
set -euo pipefail
D=../shared/data
R=runs/verifier_v2
W=$D/wice_claims/claims_binary_dev.jsonl
H=$D/halueval_qa500/claims.jsonl
O=benchmarks/results
# v1: the cross-encoder shipped before this work (commit 58e5d19), the base of v2 and the baseline rows
V1=runs/verifier_v1
mkdir -p $V1
for f in config.json model.safetensors tokenizer.json tokenizer_config.json groundqa_verifier.json; do
    git show 58e5d19:src/groundqa/data/verifier/model/$f > $V1/$f
done
python recipes/verifier_v2_data.py --out $R/data
# continue training the shipped v1 model (claim first, 256 tokens: FactCG documents are ~150 words)
groundqa train-verifier --output $R/ckpt --base $V1 --pairs $R/data/train.jsonl \
    --max-length 256 --batch-size 16 --lr 3e-5 --epochs 1 --save-steps 50 --threads 1 --seed 0
python - <<'PY'
import json
from groundqa.verify.train import export_fp16
R = "runs/verifier_v2"
export_fp16(f"{R}/ckpt/final", f"{R}/model", {"data": json.load(open(f"{R}/data/data.json")),
            "train": json.load(open(f"{R}/ckpt/train_summary.json"))}, name="groundqa-verifier-minilm-l6-v2")
PY
# WiCE dev (whole cited page as evidence), 2-fold by claim id: v1 (shipped), v2, the judge, and combinations
groundqa bench guard --data $W --verifier $V1 --save-features $R/wice_v1.npz --json $O/guard_v2_wice_v1.json
groundqa bench guard --data $W --verifier $R/model --save-features $R/wice_v2.npz --json $O/guard_v2_wice_v2.json
groundqa bench guard --data $W --verifier none --embedder none --judge qwen2.5-coder-0.5b \
    --save-features $R/wice_judge05.npz --json $O/guard_v2_wice_judge05.json
groundqa bench guard --data $W --verifier $V1 --judge qwen2.5-coder-0.5b --load-features $R/wice_v1.npz --load-features $R/wice_judge05.npz --json $O/guard_v2_wice_v1_judge05.json
groundqa bench guard --data $W --verifier $R/model --judge qwen2.5-coder-0.5b --load-features $R/wice_v2.npz \
    --load-features $R/wice_judge05.npz --json $O/guard_v2_wice_v2_judge05.json
# HaluEval QA, first 600 answers (the subset of the 1.5B judge's row)
groundqa bench guard --data $H --limit 600 --verifier $V1 --save-features $R/halu600_v1.npz --json $O/guard_v2_halu600_v1.json
groundqa bench guard --data $H --limit 600 --verifier $R/model --save-features $R/halu600_v2.npz --json $O/guard_v2_halu600_v2.json
groundqa bench guard --data $H --limit 600 --verifier none --embedder none --judge qwen2.5-coder-0.5b \
    --save-features $R/halu600_judge05.npz --json $O/guard_v2_halu600_judge05.json
groundqa bench guard --data $H --limit 600 --verifier $V1 --judge qwen2.5-coder-0.5b --load-features $R/halu600_v1.npz \
    --load-features $R/halu600_judge05.npz --json $O/guard_v2_halu600_v1_judge05.json
groundqa bench guard --data $H --limit 600 --verifier $R/model --judge qwen2.5-coder-0.5b --load-features $R/halu600_v2.npz \
    --load-features $R/halu600_judge05.npz --json $O/guard_v2_halu600_v2_judge05.json
python benchmarks/guard_v2_table.py
# held-out pairs of the new data (FactCG documents never trained on, and SNLI validation pairs)
python benchmarks/guard_eval_pairs.py --verifier $V1 --pairs $R/data/val.jsonl --json $O/guard_v2_val_v1.json
python benchmarks/guard_eval_pairs.py --verifier $R/model --pairs $R/data/val.jsonl --json $O/guard_v2_val_v2.json
python benchmarks/guard_judge_oracle.py 80 --json $O/guard_v2_judge_oracle.json
python benchmarks/guard_speed.py --squad $D/squad_v1.1_dev/dev-v1.1.json --n 20 --generator default --json $O/guard_speed_v2.json
python benchmarks/guard_speed.py --squad $D/squad_v1.1_dev/dev-v1.1.json --n 10 --judge qwen2.5-coder-0.5b --json $O/guard_speed_v2_judge.json
# the shipped default rows, rerun with v2 (after copying $R/model into src/groundqa/data/verifier/model and refitting the calibrations)
groundqa calibrate --data $O/guard_pipeline_answers_fast160.jsonl --out src/groundqa/data/verifier/calibration.json
groundqa calibrate --data $O/guard_pipeline_answers_fast160.jsonl --judge qwen2.5-coder-0.5b --out src/groundqa/data/verifier/calibration_judge.json
groundqa calibrate --data $O/guard_calibration_pairs.jsonl --limit 800 --out src/groundqa/data/verifier/calibration_synthetic.json
groundqa bench guard --data $W --json $O/guard_wice.json --report $O/guard_wice_report
groundqa bench guard --data $H --json $O/guard_halueval.json --report $O/guard_halueval_report
# the pipeline answers themselves (SmolLM2, 160 questions; about 30 min on the shared CPU)
# python benchmarks/calibrate_pipeline.py --data $D/squad_v2.0_dev/dev-v2.0.json --v11 $D/squad_v1.1_dev/dev-v1.1.json --limit 160 \
#     --generator fast --save-claims $O/guard_pipeline_answers_fast160.jsonl --out runs/calib/calibration_fast160_v1.json
groundqa bench guard --data $O/guard_pipeline_answers_fast160.jsonl --verifier $V1 --json $O/guard_v2_pipeline160_v1.json
groundqa bench guard --data $O/guard_pipeline_answers_fast160.jsonl --verifier $R/model --json $O/guard_v2_pipeline160_v2.json
