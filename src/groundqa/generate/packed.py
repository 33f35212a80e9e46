"""Faster decoding on the CPU: each linear layer keeps a copy of its weight packed for oneDNN, used
for the few rows of a decoding step (and a short prompt), while long prompts keep the dense weight.

Measured on two AMD EPYC cores (torch 2.13, float32): a decoding step of the default 0.5B generator
multiplies one row per answer being written by each weight. For so few rows the dense kernel
reaches a fraction of the memory bandwidth (the 151,936 x 896 output layer: 36 ms for one row,
120 ms for eight), and the packed oneDNN kernel about twice to three times that (23 ms and 34 ms).
The packed kernel stays faster up to about 300 rows (a window prompt's 210: 12-15% faster for the
MLP's layers) and the dense one wins from about 500 (a whole-chunk prompt, a batch of prompts).
Both compute in float32, so answers and log-probabilities agree to rounding. The cost is memory: a
second copy of every linear weight (about 2 GB for the 0.5B model). On by default for a float32
model on the CPU; ``TransformersGenerator(fast_decode=False)`` (``fast_decode = false`` in
``[generator]``) keeps one copy.
"""

from __future__ import annotations

from typing import Any

PACKED_MAX_ROWS = 320
"""Inputs with at most this many rows (tokens across the batch) use the packed weight: the
crossover measured on the 0.5B generator's layer shapes lies between 300 and 500 rows."""


def packing_available() -> bool:
    """Whether this torch build has the oneDNN packed linear kernels (x86 CPU builds do)."""
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (ImportError, AttributeError, RuntimeError):
        return False


def _packed_linear_class() -> Any:
    import torch

    class PackedLinear(torch.nn.Module):
        """A float32 ``nn.Linear`` for inference that reads its weight packed for oneDNN when the
        input has at most :data:`PACKED_MAX_ROWS` rows, and dense otherwise."""

        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.weight = linear.weight  # shared with the model (tied embeddings stay tied)
            self.bias = linear.bias
            with torch.no_grad():
                self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.dtype != torch.float32 or x.requires_grad or x.numel() // max(1, x.shape[-1]) > PACKED_MAX_ROWS:
                return torch.nn.functional.linear(x, self.weight, self.bias)
            shape = x.shape
            y = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, shape[-1]).contiguous(), self.packed, self.bias, "none", [], "")
            return y.reshape(*shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, packed for rows <= {PACKED_MAX_ROWS}"

    return PackedLinear


def pack_for_decoding(model: Any) -> int:
    """Give every float32 ``nn.Linear`` of ``model`` (a CPU model in eval mode) a packed copy of its
    weight for decoding steps; returns how many layers were packed (0 where oneDNN is missing or
    the model is not float32 on the CPU). The model's parameters are unchanged."""
    import torch

    if not packing_available():
        return 0
    cls = _packed_linear_class()
    n = 0
    with torch.no_grad():
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is torch.nn.Linear and child.weight.dtype == torch.float32 and child.weight.device.type == "cpu":
                    setattr(parent, name, cls(child))
                    n += 1
    return n
