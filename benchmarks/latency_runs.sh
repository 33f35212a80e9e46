#!/usr/bin/env bash
# The runs behind the issue-22 latency rows (docs/benchmark-history.md, "Latency"). One thread: the
# machine is shared; the ratios between settings are measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
python benchmarks/latency.py --corpora sample --out benchmarks/results/latency/latency_sample.json
python benchmarks/latency.py --corpora docs --settings chunks,windows --out benchmarks/results/latency/latency_docs.json
python benchmarks/latency.py --corpora squad --limit 60 --settings chunks,windows --out benchmarks/results/latency/latency_squad.json
