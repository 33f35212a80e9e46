"""What to do with an answer once the guard has judged its claims: pure functions, no models.

Policies (``apply_policy``):

* ``return``  everything, with scores; the verdict says whether every claim passed;
* ``flag``    everything, unsupported claims marked (verdict ``flagged``);
* ``strip``   unsupported claims cut out of the text; the rest is kept if any claim remains
  (verdict ``trimmed``), else the answer is withheld;
* ``abstain`` the answer is withheld if any claim is unsupported.

Before generation, ``relevance_gate`` withholds an answer when no passage is relevant enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import check_choice
from ..types import POLICIES, WITHHELD_TEXT, AnswerVerdict, Policy  # noqa: F401 (the policy literals are records)


@dataclass(frozen=True)
class Decision:
    """The text to return, the answer's verdict and, when something was held back, why."""

    text: str
    verdict: AnswerVerdict
    reason: str | None = None
    dropped: tuple[int, ...] = ()  # indices of claims cut out by ``strip``


def _cut(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out, last = [], 0
    for s, e in sorted(spans):
        out.append(text[last:s])
        last = e
    out.append(text[last:])
    return re.sub(r"\s{2,}", " ", "".join(out)).strip()


def apply_policy(
    policy: str,
    text: str,
    claims: Sequence[tuple[int, int, bool]],
    *,
    declined: bool = False,
    withheld_text: str = WITHHELD_TEXT,
) -> Decision:
    """Apply ``policy`` to an answer ``text`` whose claims are ``(start, end, supported)``.

    A declined answer (the generator's decline sentence) is returned as it is, with verdict
    ``declined``: declining is always grounded.
    """
    check_choice("policy", policy, POLICIES)
    if declined:
        return Decision(text, "declined", "the passages do not contain the answer")
    if not claims:  # nothing checkable ("Your answer is:"): never passed off as supported
        reason = "the answer makes no claim that can be checked against the passages"
        if policy in ("return", "flag"):
            return Decision(text, "unsupported" if policy == "return" else "flagged", reason)
        return Decision(withheld_text, "withheld", reason)
    bad = [i for i, (_, _, ok) in enumerate(claims) if not ok]
    if not bad:
        return Decision(text, "supported")
    reason = f"{len(bad)} of {len(claims)} claims are not supported by the passages"
    if policy == "return":
        return Decision(text, "unsupported", reason)
    if policy == "flag":
        return Decision(text, "flagged", reason)
    if policy == "strip" and len(bad) < len(claims):
        kept = _cut(text, [(claims[i][0], claims[i][1]) for i in bad])
        if kept:
            return Decision(kept, "trimmed", reason, tuple(bad))
    return Decision(withheld_text, "withheld", reason, tuple(bad) if policy == "strip" else ())


def relevance_gate(top_scores: Sequence[float], min_relevance: float | None) -> str | None:
    """A reason to withhold before generating (no passage, or none above ``min_relevance``), or None."""
    if not top_scores:
        return "no relevant passage: retrieval found nothing"
    if min_relevance is not None and max(top_scores) < min_relevance:
        return f"no relevant passage: the best passage scores {max(top_scores):.3f}, below {min_relevance:.3f}"
    return None
