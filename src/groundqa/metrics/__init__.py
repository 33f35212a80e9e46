"""Metrics: pure functions over plain values, no model.

Modules: ``retrieval`` (recall, MRR, nDCG at k, BEIR / pytrec_eval conventions), ``verifier``
(a binary claim verifier: AUROC, balanced accuracy, F1 on unsupported, ECE, thresholds),
``selective`` (selective answering: risk-coverage, coverage at a precision, AURC). The SQuAD
EM/F1 live with the data set (``groundqa.datasets.squad``), as the official scripts define them.
"""
