"""A zero-shot baseline for the adversarial compliance splits: the embedded SmolLM2 asked for the category.

The model (through the project's llama.cpp backend, `smollm2-135m`) gets one instruction and the text and
answers with category names or `none`; every category name in its answer counts as a flag. No examples, no
tuning: it shows what a small general model does without the rules or the classifiers.
"""

from __future__ import annotations

from collections.abc import Callable

from fincopilot.config import settings
from fincopilot.evals.compliance_adversarial import TEST_PATH, load_items, report
from fincopilot.models.base import Message
from fincopilot.models.registry import build_backend
from fincopilot.tools.compliance_rules import CATEGORIES

BACKEND = "smollm2-135m"
SYSTEM = (
    "You are a compliance officer at a bank. Read the advisor's text and name every problem in it, using only "
    "these words: guaranteed_return (promises a return or no loss), misleading_claim (claims about "
    "performance that cannot be known), missing_risk_disclosure (recommends a product without mentioning "
    "risk), suitability (says a product suits everyone), pii (phone number, email, card or ID number). "
    "If there is no problem, answer none."
)


def zero_shot(backend_id: str = BACKEND) -> Callable[[str], set[str]]:
    """A predictor text -> flagged categories backed by the named model."""
    backend = build_backend(settings().backend(backend_id))

    def predict(text: str) -> set[str]:
        answer = backend.complete(
            [
                Message(role="system", content=SYSTEM),
                Message(role="user", content=f"Text: {text}\nProblems:"),
            ],
            max_tokens=24,
            temperature=0.0,
        ).text.lower()
        return {c for c in CATEGORIES if c in answer or c.replace("_", " ") in answer}

    return predict


if __name__ == "__main__":  # python -m fincopilot.evals.compliance_zeroshot: the full report, zero-shot included
    splits = {"dev": load_items(), "test": load_items(TEST_PATH)}
    print(report(splits, {"smollm2-135m zero-shot": zero_shot()}))
