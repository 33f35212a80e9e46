#!/usr/bin/env bash
# The end-to-end rows of issue 5 on 100 held-out questions each: SQuAD v1.1 with the default
# generator (`fast`: SmolLM2-135M + the shipped adapter) and with the bare base model, and SQuAD
# v2.0 with the default generator. Default guard and calibration, policy abstain, top 4 passages.
#   nohup nice -n 10 bash benchmarks/qa_pipeline_runs.sh > runs/qa_pipeline_runs.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
D=../shared/data
N=${LIMIT:-100}
R=benchmarks/results
[ -f $R/qa/qa_squad11_heldout.json ] && [ "$(python -c "import json;print(json.load(open('$R/qa/qa_squad11_heldout.json'))['results']['n'])")" = "$N" ] || \
  python benchmarks/qa_pipeline.py --data $D/squad_v1.1_dev/dev-v1.1.json --heldout --limit $N \
    --json $R/qa/qa_squad11_heldout.json --report $R/qa/qa_squad11_report
[ -f $R/qa/qa_squad20_heldout.json ] && [ "$(python -c "import json;print(json.load(open('$R/qa/qa_squad20_heldout.json'))['results']['n'])")" = "$N" ] || \
  python benchmarks/qa_pipeline.py --data $D/squad_v2.0_dev/dev-v2.0.json --version 2.0 --heldout --limit $N \
    --json $R/qa/qa_squad20_heldout.json --report $R/qa/qa_squad20_report
[ -f $R/qa/qa_squad11_heldout_base.json ] || \
  python benchmarks/qa_pipeline.py --data $D/squad_v1.1_dev/dev-v1.1.json --heldout --limit $N --generator smollm2-135m \
    --json $R/qa/qa_squad11_heldout_base.json --report $R/qa/qa_squad11_base_report
echo DONE
