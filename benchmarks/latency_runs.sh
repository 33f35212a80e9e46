#!/usr/bin/env bash
# The runs behind the issue-22 latency rows (benchmarks/README.md, "Latency"). One thread: the
# machine is shared; the ratios between settings are measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
python benchmarks/latency.py --corpora sample,docs --out benchmarks/results/latency.json
python benchmarks/latency.py --corpora squad --limit 100 --settings chunks,windows --out benchmarks/results/latency_squad.json
