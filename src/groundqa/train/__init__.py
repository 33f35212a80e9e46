"""Training, offline: ``finetune`` (fine-tune a generator, LoRA adapters, adapter scaling),
``curve`` (``groundqa finetune --curve``: a learning curve with its cost), ``verifier`` (fine-tune
the guard's cross-encoder), ``calibrate`` (fit the guard's combiner and thresholds). The request
path imports none of it; what it trains is loaded by the stages (``generate``, ``verify``).
"""
