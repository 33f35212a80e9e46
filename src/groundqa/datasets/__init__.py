"""Data sets for offline work (benchmarks, training, calibration); the request path reads none.

Modules: ``squad`` (SQuAD v1.1/v2.0 and JSONL question files, their official EM/F1 and the
gold-context QA runner), ``beir`` (BEIR retrieval folders), ``claims`` (labelled claim/evidence
data: NLI training sources with their licences, WiCE / HaluEval / plain guard benchmarks),
``synth`` (synthetic claim/evidence pairs from any corpus).
"""
