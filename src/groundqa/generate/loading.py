"""Load a generator's weights through :func:`groundqa.models.resolve_model`.

GGUF weights (the packaged generators) are de-quantised by transformers, which takes 14-50 s and
gives a model that refuses ``save_pretrained``. The first load therefore builds a plain twin
(``from_config`` without the quantisation config + ``load_state_dict``) and writes it as
safetensors to ``cache_dir()/dequant/<name>``; later loads read that folder in seconds. A folder
that holds a LoRA adapter (``adapter_config.json``) loads its base model and applies the adapter.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelNotFoundError
from ..models import ResolvedModel, cache_dir, resolve_model

log = logging.getLogger(__name__)

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class LoadedModel:
    """A model, its tokenizer, and where they came from."""

    model: Any
    tokenizer: Any
    name: str
    is_seq2seq: bool
    adapter: str | None
    load_seconds: float


def _dequant_dir(resolved: ResolvedModel, dtype: str) -> Path:
    st = resolved.path.stat()
    key = hashlib.sha1(f"{resolved.path.resolve()}|{st.st_size}|{_CACHE_FORMAT}".encode()).hexdigest()[:10]
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in resolved.name.split("/")[-1])
    suffix = "" if dtype == "float32" else f"-{dtype}"
    return cache_dir() / "dequant" / f"{safe}-{key}{suffix}"


def dequantised_folder(ref: str | os.PathLike[str], dtype: str = "float32") -> Path:
    """Return a plain transformers folder (safetensors) for a GGUF model, building it once.

    ``dtype`` ("float32" or "bfloat16") is the dtype of the cached copy; a bf16 copy halves disk
    and memory for the larger models (Qwen2.5-1.5B: about 3.5 GB instead of 7). Any other
    reference resolves to its folder unchanged.
    """
    resolved = resolve_model(ref)
    if resolved.kind != "generator-gguf":
        return resolved.path
    if dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"dtype={dtype!r} is not valid for the de-quantised cache; use float32 or bfloat16")
    target = _dequant_dir(resolved, dtype)
    if (target / "groundqa_dequant.json").exists():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    folder, fname = str(resolved.path.parent), resolved.path.name
    tdtype = torch.float32 if dtype == "float32" else torch.bfloat16
    log.info("de-quantising %s (once; cached in %s)", resolved.path, target)
    quant = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=tdtype)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    config = AutoConfig.from_pretrained(folder, gguf_file=fname)
    if hasattr(config, "quantization_config"):
        try:
            delattr(config, "quantization_config")
        except AttributeError:
            config.quantization_config = None
    twin = AutoModelForCausalLM.from_config(config, dtype=tdtype)
    missing, unexpected = twin.load_state_dict(quant.state_dict(), strict=False)
    # tied embeddings may be absent from the state dict: that is fine; anything else is not
    real_missing = [k for k in missing if not k.endswith("lm_head.weight")]
    if real_missing or unexpected:
        raise ModelNotFoundError(
            f"de-quantising {resolved.path}: weights do not match the config (missing {real_missing[:3]}, "
            f"unexpected {list(unexpected)[:3]}); delete {target} and report the model"
        )
    if missing:
        twin.tie_weights()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    del quant
    twin.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "groundqa_dequant.json").write_text(
        json.dumps({"source": str(resolved.path), "name": resolved.name, "hub_id": resolved.hub_id,
                    "format": _CACHE_FORMAT, "dtype": dtype, "seconds": round(time.perf_counter() - t0, 1)}, indent=1)
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _adapter_base(folder: Path) -> str | None:
    cfg = folder / "adapter_config.json"
    if not cfg.exists():
        return None
    data = json.loads(cfg.read_text())
    card = folder / "groundqa_card.json"
    if card.exists():  # the card keeps the groundqa reference (a short name), not a cache path
        base = json.loads(card.read_text()).get("base")
        if base:
            return str(base)
    return str(data.get("base_model_name_or_path") or "")


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"device={device!r} is not valid; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return device


INT8_SCHEMES = ("tensor", "channel")


def int8_scheme(int8: bool | str | None, device: str | None = None) -> str | None:
    """The dynamic int8 scheme ``int8`` names: None (fp32 or the dtype asked for), ``"tensor"``
    (True: one weight scale a linear layer) or ``"channel"`` (one scale an output row). On the
    1.5B adapter (issue 21, thirteenth session) both run at about 1.35 times the 0.5B default's
    generation time against fp32's 3.1; per-channel kept more of fp32's right answers (119 of 183
    calibration questions against 113; fp32 130). Dynamic int8 is for the CPU: with a CUDA
    ``device`` any scheme is refused."""
    if int8 is None or int8 is False:
        return None
    if int8 is not True and not (isinstance(int8, str) and int8 in INT8_SCHEMES):
        raise ConfigError(f"int8={int8!r} is not valid; use False, True (per tensor), 'tensor' or 'channel' (per output row, closer to fp32)")
    if device is not None and str(device).startswith("cuda"):
        raise ConfigError(f"int8={int8!r} with device={device!r}: dynamic int8 is for the CPU; on CUDA drop int8 (bf16 is used)")
    return "tensor" if int8 is True else int8


def load_generator_model(
    ref: str | os.PathLike[str],
    *,
    device: str | None = None,
    dtype: str = "auto",
    int8: bool | str = False,
    adapter: str | os.PathLike[str] | None = None,
    merge_adapter: bool = True,
) -> LoadedModel:
    """Load tokenizer and model for generation.

    ``dtype``: "auto" (bf16 on CUDA, fp32 on CPU), "float32", "bfloat16", "float16".
    ``int8``: dynamic int8 quantisation of the linear layers (CPU only): True or ``"tensor"``, one
    weight scale a layer; ``"channel"``, one an output row (as fast, and closer to fp32: see
    :func:`int8_scheme`).
    ``adapter``: a LoRA adapter folder applied on top (merged into the weights by default).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    t0 = time.perf_counter()
    dev = pick_device(device)
    scheme = int8_scheme(int8, dev)
    ref_path = Path(os.fspath(ref)).expanduser()
    if adapter is None and ref_path.is_dir() and (ref_path / "adapter_config.json").exists():
        adapter, ref = ref_path, _adapter_base(ref_path) or ""
        if not ref:
            raise ModelNotFoundError(f"adapter folder {ref_path} does not name its base model; pass --base")
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype == "auto":
        tdtype = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    elif dtype in dtypes:
        tdtype = dtypes[dtype]
    else:
        raise ConfigError(f"dtype={dtype!r} is not valid; choose one of: auto, {', '.join(dtypes)}")
    folder = dequantised_folder(ref, "bfloat16" if tdtype == torch.bfloat16 else "float32")
    name = resolve_model(ref).name
    config = AutoConfig.from_pretrained(folder)
    is_seq2seq = bool(getattr(config, "is_encoder_decoder", False))
    cls = AutoModelForSeq2SeqLM if is_seq2seq else AutoModelForCausalLM
    model = cls.from_pretrained(folder, dtype=tdtype)
    tok = AutoTokenizer.from_pretrained(folder)
    adapter_name = None
    if adapter is not None:
        model = _apply_adapter(model, Path(os.fspath(adapter)))
        if merge_adapter:
            model = model.merge_and_unload()
        adapter_name = str(adapter)
    model.to(dev)
    model.eval()
    if scheme is not None:
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

        qconfig = per_channel_dynamic_qconfig if scheme == "channel" else default_dynamic_qconfig
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return LoadedModel(model=model, tokenizer=tok, name=name, is_seq2seq=is_seq2seq, adapter=adapter_name,
                       load_seconds=time.perf_counter() - t0)


def _apply_adapter(model: Any, folder: Path) -> Any:
    """Wrap ``model`` with the LoRA adapter in ``folder``: ``adapter_model.safetensors`` (peft's own
    format) or the shipped ``adapter_model.int8.safetensors`` (int8 with a scale per row, see
    groundqa.int8store), loaded as float32."""
    from peft import PeftModel

    q = folder / "adapter_model.int8.safetensors"
    if not q.exists() or (folder / "adapter_model.safetensors").exists() or (folder / "adapter_model.bin").exists():
        return PeftModel.from_pretrained(model, str(folder))
    from peft import PeftConfig, get_peft_model, set_peft_model_state_dict

    from ..int8store import load_int8

    cfg = PeftConfig.from_pretrained(str(folder))
    cfg.inference_mode = True
    model = get_peft_model(model, cfg)
    res = set_peft_model_state_dict(model, load_int8(q))
    if res.unexpected_keys:
        raise ModelNotFoundError(f"{q} does not fit its adapter_config.json (unexpected {list(res.unexpected_keys)[:3]}); "
                                 "rewrite it with groundqa.int8store.convert_file from the adapter's safetensors")
    return model
