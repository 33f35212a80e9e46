#!/usr/bin/env bash
# The guard's measurements, in order (CPU, one thread). Run from the repository root with the venv active.
# 1. train the verifier (resumable; bounded by --stop-at) and export it as the shipped model
#    groundqa train-verifier --output ~/.cache/groundqa/vrun1 --snli ../shared/data/nli/snli_esnli \
#        --squad ../shared/data/squad_v1.1_dev/dev-v1.1.json --max-steps 1300 --stop-at 17:05 --save-steps 50 --seed 0
#    python -c "from groundqa.verify.train import export_fp16; export_fp16('$HOME/.cache/groundqa/vrun1/final', 'src/groundqa/data/verifier/model', name='groundqa-verifier-minilm-l6-v1')"
set -euo pipefail
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
D=../shared/data
R=benchmarks/results
[ -d "$D" ] || D=/work/shared/data
step=${1:-all}
if [[ $step == all || $step == wice ]]; then
  python benchmarks/run.py benchmarks/configs/guard/wice.toml   # the row: results/guard/guard_wice.json, in the result schema
  groundqa bench guard --data $D/wice_claims/claims_binary_dev.jsonl --json runs/guard_wice.json --report $R/guard/guard_wice_report --save-features /tmp/guard_wice_features.npz
  groundqa bench guard --data $D/wice_claims/claims_binary_dev.jsonl --verifier none --load-features /tmp/guard_wice_features.npz --json $R/guard/guard_wice_nomodel.json || true
fi
if [[ $step == all || $step == halueval ]]; then
  python benchmarks/run.py benchmarks/configs/guard/halueval.toml
  groundqa bench guard --data $D/halueval_qa500/claims.jsonl --json runs/guard_halueval.json --report $R/guard/guard_halueval_report --save-features /tmp/guard_halueval_features.npz
fi
python benchmarks/legacy.py > /dev/null   # wrap what the commands above wrote in their own shape (report folders)
if [[ $step == all || $step == calibrate ]]; then
  python benchmarks/guard_calibration_data.py --squad $D/squad_v1.1_dev/dev-v1.1.json --out $R/guard/guard_calibration_pairs.jsonl
  groundqa calibrate --data $R/guard/guard_calibration_pairs.jsonl --limit 800 --out src/groundqa/data/verifier/calibration.json
  groundqa calibrate --data $R/guard/guard_calibration_pairs.jsonl --limit 800 --verifier none --out src/groundqa/data/verifier/calibration_nomodel.json
fi
if [[ $step == all || $step == speed ]]; then
  python benchmarks/guard_speed.py --squad $D/squad_v1.1_dev/dev-v1.1.json --n 40 --json $R/guard/guard_speed.json
fi
if [[ $step == all || $step == val ]]; then
  python benchmarks/guard_eval_pairs.py --verifier default --pairs ~/.cache/groundqa/vrun1/val_pairs.jsonl --json $R/guard/guard_verifier_val.json
fi
if [[ $step == judge ]]; then  # the optional LLM-judge signal (about 25 minutes on WiCE, 20 on 600 HaluEval answers; not part of `all`)
  groundqa bench guard --data $D/wice_claims/claims_binary_dev.jsonl --judge qwen2.5-coder-1.5b --judge-dtype bf16 \
    --json $R/guard/guard_wice_judge.json --save-features runs/guard_wice_judge.npz
  groundqa bench guard --data $D/halueval_qa500/claims.jsonl --limit 600 --judge qwen2.5-coder-1.5b --judge-dtype bf16 \
    --json $R/guard/guard_halueval600_judge.json --save-features runs/guard_halueval600_judge.npz
fi
if [[ $step == stage2 ]]; then  # more training of the shipped model (about 75 minutes on one thread), compared with it; not shipped (see docs/benchmark-history.md)
  groundqa train-verifier --output runs/vrun2 --base src/groundqa/data/verifier/model --snli $D/nli/snli_esnli \
    --squad $D/squad_v1.1_dev/dev-v1.1.json --max-steps 2000 --batch-size 32 --lr 3e-5 --seed 1 --save-steps 100
  python -c "from groundqa.verify.train import export_fp16; export_fp16('runs/vrun2/final', 'runs/vexp/final', name='groundqa-verifier-minilm-l6-v2')"
  for v in default runs/vexp/final; do
    n=$(basename $v)
    groundqa bench guard --data $D/wice_claims/claims_binary_dev.jsonl --verifier $v --json runs/vexp/wice_$n.json
    groundqa bench guard --data $D/halueval_qa500/claims.jsonl --verifier $v --json runs/vexp/halu_$n.json
    python benchmarks/guard_eval_pairs.py --verifier $v --pairs runs/vrun2/val_pairs.jsonl --json runs/vexp/val_$n.json
    for r in covidfact scifact; do
      python benchmarks/guard_eval_pairs.py --verifier $v --rte $D/nli/covidfact/rte_${r}_dev.tsv --json runs/vexp/rte_${r}_$n.json
    done
  done
  python benchmarks/guard_compare_verifiers.py --dir runs/vexp --a default --b final --json $R/guard/guard_verifier_stage2.json
fi
