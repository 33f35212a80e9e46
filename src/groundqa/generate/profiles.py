"""Named generator profiles: ``default`` (Qwen2.5-Coder-0.5B-Instruct + the shipped LoRA adapter),
``fast`` (SmolLM2-135M + its adapter: the tests' and CI's model, 4x faster, much weaker),
``accurate`` (Qwen2.5-Coder-1.5B-Instruct + its adapter, probe and guard calibration: more right
answers returned at the same precision, about 3x the generation time; issue 21) and ``quality``
(the untuned Qwen2.5-Coder-1.5B)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelNotFoundError
from .prompts import Profile

DEFAULT_ADAPTER = "qwen2.5-coder-0.5b-squad-lora"
FAST_ADAPTER = "smollm2-135m-squad-lora"
ACCURATE_ADAPTER = "qwen2.5-coder-1.5b-accurate-lora"


def adapters_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "adapters"


PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default", model="qwen2.5-coder-0.5b", adapter=DEFAULT_ADAPTER, dtype="auto",
        description="Qwen2.5-Coder-0.5B-Instruct + the shipped LoRA adapter (trained by `groundqa finetune --lora` "
        "on SQuAD training articles, unanswerable questions included); a few seconds per answer on CPU",
    ),
    "fast": Profile(
        name="fast", model="smollm2-135m", adapter=FAST_ADAPTER, dtype="auto",
        description="SmolLM2-135M-Instruct + the shipped LoRA adapter (trained by `groundqa finetune --lora` "
        "on SQuAD v1.1 dev training articles); about 1 s per answer on CPU",
    ),
    "accurate": Profile(
        name="accurate", model="qwen2.5-coder-1.5b", adapter=ACCURATE_ADAPTER, dtype="auto",
        description="Qwen2.5-Coder-1.5B-Instruct + its LoRA adapter, with its own hidden-state probe and guard calibration "
        "(the guard uses them); more right answers returned than the default at the same precision, about 3x its "
        "generation time on CPU",
    ),
    "quality": Profile(
        name="quality", model="qwen2.5-coder-1.5b", adapter=None, dtype="bfloat16",
        description="Qwen2.5-Coder-1.5B-Instruct in bf16; several seconds per answer on CPU",
    ),
}


def resolve_profile(ref: str) -> tuple[str, str | None, str]:
    """(model reference, adapter folder or None, dtype) for a profile name; other refs pass through."""
    prof = PROFILES.get(ref)
    if prof is None:
        return ref, None, "auto"
    adapter = None
    if prof.adapter:
        folder = adapters_dir() / prof.adapter
        if not (folder / "adapter_config.json").exists():
            raise ModelNotFoundError(
                f"generator profile {ref!r} needs the shipped adapter {folder}, which is missing; reinstall "
                f"groundqa, or pass --generator {prof.model} for the bare base model"
            )
        adapter = str(folder)
    return prof.model, adapter, prof.dtype
