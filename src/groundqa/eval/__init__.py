"""Evaluation, offline: ``retrieval`` (``groundqa bench retrieval``: BEIR), ``qa`` (``groundqa
bench qa``: the whole pipeline on SQuAD-format data), ``guard`` (``groundqa bench guard``: claim
verification on WiCE, HaluEval or plain files). Data sets come from ``groundqa.datasets``, scores
from ``groundqa.metrics``.
"""
