"""What to do with an answer once the guard has judged it: now ``groundqa.pipeline.policy``. The
names stay importable from here."""

from __future__ import annotations

from .pipeline.policy import POLICIES, WITHHELD_TEXT, AnswerVerdict, Decision, Policy, apply_policy, relevance_gate

__all__ = ["AnswerVerdict", "Decision", "POLICIES", "Policy", "WITHHELD_TEXT", "apply_policy", "relevance_gate"]
