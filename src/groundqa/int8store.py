"""Shipped weights stored as int8 with one scale per row (or column), loaded back as float32.

The package ships three sets of weights: the verifier (MiniLM-L6 cross-encoder, 22.7M parameters)
and the two generator LoRA adapters (8.8M and 4.9M parameters). In float16 they are 73 MB of the
tracked tree; stored this way they take about half that. Every 2-D matrix of at least
``MIN_NUMEL`` values is stored as ``int8`` values with a float32 scale per slice along its longer
axis (symmetric, absolute maximum / 127: one scale per embedding row, per output row of a linear
layer, per rank component of a LoRA factor); everything else (biases, LayerNorm) stays float16.
Loading multiplies back to float32, so compute is float32 as before; the rounding error is at most
half a step (1/254 of the slice's largest value). The effect on the shipped verifier's and
generator's results is measured in docs/benchmark-history.md (issue 23).

A file in this format is named ``*.int8.safetensors`` and carries ``groundqa_int8 = 1`` in its
metadata; a quantised tensor ``W`` is stored as ``W.int8`` and ``W.scale``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MIN_NUMEL = 4096
SUFFIX = ".int8.safetensors"


def quantize_tensors(tensors: dict[str, Any], *, min_numel: int = MIN_NUMEL) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for k, v in tensors.items():
        if v.is_floating_point() and v.dim() == 2 and v.numel() >= min_numel:
            w = v.float()
            dim = 1 if w.shape[1] >= w.shape[0] else 0  # reduce over the longer axis
            scale = (w.abs().amax(dim=dim, keepdim=True) / 127.0).clamp_min(1e-30)
            out[k + ".int8"] = torch.round(w / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[k + ".scale"] = scale.contiguous()
        elif v.is_floating_point():
            out[k] = v.to(torch.float16).contiguous()
        else:
            out[k] = v.contiguous()
    return out


def dequantize_tensors(tensors: dict[str, Any], dtype: Any = None) -> dict[str, Any]:
    import torch

    dtype = dtype or torch.float32
    out: dict[str, Any] = {}
    for k, v in tensors.items():
        if k.endswith(".int8"):
            name = k[: -len(".int8")]
            out[name] = (v.to(torch.float32) * tensors[name + ".scale"]).to(dtype)
        elif k.endswith(".scale") and k[: -len(".scale")] + ".int8" in tensors:
            continue
        else:
            out[k] = v.to(dtype) if v.is_floating_point() else v
    return out


def save_int8(tensors: dict[str, Any], path: str | os.PathLike[str]) -> None:
    from safetensors.torch import save_file

    save_file(quantize_tensors(tensors), str(path), metadata={"format": "pt", "groundqa_int8": "1"})


def load_int8(path: str | os.PathLike[str], dtype: Any = None) -> dict[str, Any]:
    """The float32 (or ``dtype``) tensors of an ``*.int8.safetensors`` file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("groundqa_int8") != "1":
        from .errors import ModelNotFoundError

        raise ModelNotFoundError(f"{path} is not a groundqa int8 weights file (no groundqa_int8 metadata); "
                                 "write it with groundqa.int8store.convert_file")
    return dequantize_tensors(load_file(str(path)), dtype)


def convert_file(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *, remove: bool = False) -> Path:
    """Write ``src`` (a ``.safetensors`` file) as ``NAME.int8.safetensors`` next to it (or ``dst``)."""
    from safetensors.torch import load_file

    src = Path(src)
    dst = Path(dst) if dst is not None else src.with_name(src.name[: -len(".safetensors")] + SUFFIX)
    save_int8(load_file(str(src)), dst)
    if remove:
        src.unlink()
    return dst
