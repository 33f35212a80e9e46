"""What the generator's own hidden state says about its answer: a linear probe (issue 21).

While the generator writes an answer, a forward hook keeps the hidden state that one decoder layer
gives each token it reads. The probe is a weight vector over the mean of those states across the
answer's tokens (the citation mark left out) and, where it names it, the state at the prompt's last
token, plus a bias: its value is the log-odds that the answer is right, as learned from the generator's own answers on the calibration set
(``benchmarks/generator_hidden_probe.py``). The guard reads it as the signal ``gen_probe``.

A probe belongs to the weights it was fitted on, so it ships beside them: ``groundqa_probe.json``
in the adapter's folder (or the model's). A generator whose folder has none scores no probe, and
the combiner reads the missing signal as its calibration mean. Reading the states costs a copy of
one row per token: nothing measurable next to the decoding itself.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError

PROBE_FILE = "groundqa_probe.json"
# the guard's combiner and threshold fitted on this generator's own answers, beside its adapter
CALIBRATION_FILE = "groundqa_calibration.json"
PLACES = ("answer_mean", "prompt_last")
"""Where the probe reads the layer's states: the mean over the answer's tokens, and the prompt's last
token (the state from which the model wrote the answer's first token)."""


@dataclass(frozen=True)
class HiddenProbe:
    """``score(h) = h . weight + bias``, ``h`` the states that decoder layer ``layer`` (1-based: the
    output of the layer-th layer, ``hidden_states[layer]`` in transformers) gives at each of
    ``places`` (comma-separated names of :data:`PLACES`), joined in that order."""

    layer: int
    weight: np.ndarray
    bias: float
    place: str = "answer_mean"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        places = self.places
        if not places or any(p not in PLACES for p in places) or len(set(places)) != len(places):
            raise ConfigError(f"probe place {self.place!r} is not valid; name each of {PLACES} at most once, comma-separated")
        if not isinstance(self.layer, int) or self.layer < 1:
            raise ConfigError(f"probe layer {self.layer!r} must be a layer number from 1")

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.place.split(",") if p.strip())

    def score(self, hidden: np.ndarray) -> float:
        """The probe's value for ``hidden``: the states of :attr:`places`, joined in that order."""
        h = np.asarray(hidden, dtype=np.float64).reshape(-1)
        if h.shape[0] != self.weight.shape[0]:
            raise ConfigError(f"the probe reads {self.weight.shape[0]} hidden values, the model gives {h.shape[0]}: "
                              f"the probe was fitted on other weights; remove {PROBE_FILE} from the folder or fit it again")
        return float(h @ self.weight + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {"format": 1, "layer": self.layer, "place": self.place, "bias": self.bias,
                "weight": [round(float(w), 7) for w in self.weight], "info": self.info}

    def save(self, folder: str | Path) -> Path:
        """Write :data:`PROBE_FILE` into ``folder`` (created if missing); returns its path."""
        path = Path(folder) / PROBE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "HiddenProbe":
        try:
            return cls(layer=int(d["layer"]), weight=np.asarray(d["weight"], dtype=np.float64), bias=float(d["bias"]),
                       place=str(d.get("place", "answer_mean")), info=dict(d.get("info", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"a probe needs layer, weight and bias ({exc}); fit it again with benchmarks/generator_hidden_probe.py") from exc

    @classmethod
    def load(cls, folder: str | Path | None) -> "HiddenProbe | None":
        """The probe in ``folder`` (an adapter or model folder), or None where it has none."""
        if not folder or not (Path(folder) / PROBE_FILE).is_file():
            return None
        path = Path(folder) / PROBE_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); restore it from the package or delete it to score no probe") from exc


def decoder_layers(model: Any) -> Sequence[Any]:
    """The decoder's layer list of a causal LM (plain, LoRA-wrapped or merged): the longest
    ``torch.nn.ModuleList`` named ``layers``."""
    import torch

    best: Any = None
    for name, mod in model.named_modules():
        if name.split(".")[-1] == "layers" and isinstance(mod, torch.nn.ModuleList) and (best is None or len(mod) > len(best)):
            best = mod
    if best is None:
        raise ConfigError(f"found no decoder layer list in {type(model).__name__}; a hidden-state probe needs a decoder-only transformer")
    return best


class HiddenRecorder:
    """While active, keeps the last position's output of one decoder layer at every forward call
    made by the thread that entered it: call 0 reads the prompt (its last token), call k+1 reads
    generated token k. The hook sits on a module every thread shares, so calls from other threads
    (another worker's batch, a streamed answer) are left out."""

    def __init__(self, model: Any, layer: int) -> None:
        layers = decoder_layers(model)
        if not 1 <= layer < len(layers):
            raise ConfigError(f"probe layer {layer} is outside this model's 1..{len(layers) - 1}; the probe was fitted on another model")
        self._module = layers[layer - 1]
        self.steps: list[np.ndarray] = []
        self._handle: Any = None
        self._thread: int | None = None

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        h = output[0] if isinstance(output, (tuple, list)) else output
        self.steps.append(h[:, -1, :].detach().float().cpu().numpy())

    def __enter__(self) -> "HiddenRecorder":
        self.steps = []
        self._thread = threading.get_ident()
        self._handle = self._module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def answer_mean(self, row: int, positions: Sequence[int]) -> np.ndarray | None:
        """The mean state of generated tokens at ``positions`` (0-based, in the generated sequence)
        of batch row ``row``; None where none of them was read (the answer hit the token limit)."""
        got = [self.steps[k + 1][row] for k in positions if k + 1 < len(self.steps)]
        return np.mean(got, axis=0) if got else None

    def states(self, places: Sequence[str], row: int, positions: Sequence[int]) -> np.ndarray | None:
        """The states of ``places`` (see :data:`PLACES`) for batch row ``row``, joined in order;
        None where the answer's tokens were not read."""
        mean = self.answer_mean(row, positions)
        if mean is None or not self.steps:
            return None
        return np.concatenate([mean if p == "answer_mean" else self.steps[0][row] for p in places])
