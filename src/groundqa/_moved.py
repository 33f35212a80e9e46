"""Old import paths of modules that moved (issue 24), so scripts and user code that import them keep
working: ``import groundqa.bench.squad`` gives the module ``groundqa.datasets.squad`` itself (the
same object, so a monkeypatch on either name reaches both). New code imports the new paths.

``install()`` puts one finder first on ``sys.meta_path`` (``groundqa/__init__`` calls it); it
answers only for the names below and imports nothing until one of them is imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

MOVED = {
    # request-path stages -> offline packages
    "groundqa.generate.finetune": "groundqa.train.finetune",
    "groundqa.generate.curve": "groundqa.train.curve",
    "groundqa.verify.train": "groundqa.train.verifier",
    "groundqa.verify.calibrate": "groundqa.train.calibrate",
    "groundqa.verify.data": "groundqa.datasets.claims",
    "groundqa.verify.synth": "groundqa.datasets.synth",
    "groundqa.verify.metrics": "groundqa.metrics.verifier",
    # groundqa.bench -> datasets, metrics, eval
    "groundqa.bench": "groundqa.eval",
    "groundqa.bench.squad": "groundqa.datasets.squad",
    "groundqa.bench.beir": "groundqa.datasets.beir",
    "groundqa.bench.metrics": "groundqa.metrics.retrieval",
    "groundqa.bench.selective": "groundqa.metrics.selective",
    "groundqa.bench.retrieval": "groundqa.eval.retrieval",
    "groundqa.bench.qa": "groundqa.eval.qa",
    "groundqa.bench.guard": "groundqa.eval.guard",
    # the service's Prometheus metrics (one package is named metrics)
    "groundqa.serve.metrics": "groundqa.serve.prometheus",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(MOVED[spec.name])  # the module itself, under its old name too

    def exec_module(self, module: Any) -> None:
        pass


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
