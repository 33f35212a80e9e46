#!/usr/bin/env bash
# Issue 12's generator rows: gold paragraph among 2 distractors, SQuAD v1.1's 12 held-out articles
# (never trained or tuned on), 100 seeded questions, the same for every row:
#   base      untuned Qwen2.5-Coder-0.5B, the shipped prompt (asks for "answer [n]")
#   base-plain untuned, a prompt that asks for the answer only (fairer to an untuned model)
#   default   the default profile: the 0.5B + the shipped adapter (span grounding on; f1_raw in the
#             same file is the F1 before grounding)
#   fast      the old default, SmolLM2-135M + its adapter, for comparison
#   bash recipes/generator05_eval.sh        (about 20 min on 2 free cores)
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
[ -f runs/squad_split/heldout12.json ] || python benchmarks/generator_split.py
R=benchmarks/results
N=${LIMIT:-100}
PLAIN='Answer the question using only the numbered documents. Reply with only the answer: a few words copied from the documents, not a sentence. If the documents do not contain the answer, reply exactly: {decline}'
run() {  # name, then groundqa bench qa options
  local name=$1; shift
  [ -f "$R/generator/generator05_$name.json" ] || groundqa bench qa --data runs/squad_split/heldout12.json --context gold \
    --distractors 2 --limit "$N" --seed 0 --batch-size 4 --threads ${THREADS:-2} --json "$R/generator/generator05_$name.json" "$@" > /dev/null
  python - "$R/generator/generator05_$name.json" "$name" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d = d.get("scores", d)  # a committed file is in the result schema
print(f"{sys.argv[2]:12s} n={d['n']} EM {d['em']:5.1f} F1 {d['f1']:5.1f} (before grounding {d.get('f1_raw', float('nan')):5.1f}) "
      f"in-passage {d.get('in_passage_rate', float('nan')):5.1f}% answered {d['answered_rate']:5.1f}% {d['seconds_per_question']:.2f} s/q")
PY
}
for row in ${ROWS:-default base base-plain fast}; do
  case $row in
    default) run default --generator default ;;
    default-nosnap) run default-nosnap --generator default --ground off ;;
    base) run base --generator qwen2.5-coder-0.5b ;;
    base-plain) run base-plain --generator qwen2.5-coder-0.5b --instruction "$PLAIN" ;;
    fast) run fast --generator fast ;;
  esac
done
echo DONE
