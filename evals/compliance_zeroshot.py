"""A zero-shot baseline for the adversarial compliance splits: the embedded SmolLM2 asked one yes/no question.

The model (through the project's llama.cpp backend, `smollm2-135m`) gets the text and one question: does it
break any of the rules (promised returns or no loss, misleading performance claims, "suits everyone",
personal data, a recommendation without a risk warning)? SmolLM2-135M does not follow a category-name format
(it paraphrases the text instead), so the baseline is binary: an answer that starts with "yes" or says the
text "promises" flags every category. Its recall is therefore lenient (any violation, not the labelled
category) and its per-category F1 is not meaningful. No examples, no tuning.
"""

from __future__ import annotations

from collections.abc import Callable

from fincopilot.config import settings
from fincopilot.evals.compliance_adversarial import TEST_PATH, load_items, report
from fincopilot.models.messages import Message
from fincopilot.models.registry import build_backend
from fincopilot.tools.compliance_rules import CATEGORIES

BACKEND = "smollm2-135m"
SYSTEM = "You are a bank compliance officer."
QUESTION = (
    "Does this text promise a guaranteed return, say the investor cannot lose money, make a misleading claim "
    "about performance, say a product suits everyone, contain personal data, or recommend a product without "
    "a risk warning? Answer yes or no."
)


def zero_shot(backend_id: str = BACKEND) -> Callable[[str], set[str]]:
    """A predictor text -> flagged categories (all of them on "yes", none on "no") backed by the named model."""
    backend = build_backend(settings().backend(backend_id))

    def predict(text: str) -> set[str]:
        answer = (
            backend.complete(
                [
                    Message(role="system", content=SYSTEM),
                    Message(role="user", content=f'Text: "{text}"\n{QUESTION}'),
                ],
                max_tokens=6,
                temperature=0.0,
            )
            .text.strip()
            .lower()
        )
        return set(CATEGORIES) if answer.startswith("yes") or " promises " in f" {answer} " else set()

    return predict


if (
    __name__ == "__main__"
):  # python -m fincopilot.evals.compliance_zeroshot: the full report, zero-shot included
    splits = {"dev": load_items(), "test": load_items(TEST_PATH)}
    print(report(splits, {"smollm2-135m zero-shot": zero_shot()}))
