"""End to end through the real embedded SmolLM2-135M: the official `openai` client (streaming) → a real uvicorn
server on 127.0.0.1 → the real CopilotRunner with the built-in config (every model call on SmolLM2)."""

from __future__ import annotations

import openai
import pytest
from server_fakes import LiveServer, prepare_home  # noqa: E402

pytestmark = pytest.mark.model


def test_openai_stream_through_the_real_model(isolated_home, smollm2):
    from fincopilot.graphs.runner import CopilotRunner
    from fincopilot.models.registry import register_instance
    from fincopilot.server.app import create_app
    from fincopilot.server.keys import KeyStore

    prepare_home(isolated_home)
    register_instance(
        smollm2
    )  # the session's loaded model serves every skill (the built-in config's default)
    store = KeyStore()
    _, key = store.create("advisor", "Olivia Brandt")  # C-1042 is in her book
    app = create_app({"fincopilot-advisor": CopilotRunner()}, keys=store)
    with LiveServer(app) as server:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=600)
        stream = client.chat.completions.create(
            model="fincopilot-advisor",
            stream=True,
            messages=[{"role": "user", "content": "What is the credit grade of client C-1042?"}],
        )
        content, reasoning, final = "", "", {}
        for chunk in stream:
            for choice in chunk.choices:
                content += choice.delta.content or ""
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
                if choice.finish_reason:
                    final = (chunk.model_extra or {}).get("fincopilot", {})
    assert final["status"] in ("answered", "held")
    assert "credit_lookup" in [s["skill"] for s in final["plan"]]
    assert "✓ step 1 credit_lookup" in reasoning
    if final["status"] == "answered":
        assert "C-1042" in content and "[1]" in content and "Sources:" in content
    else:
        assert "held for compliance review" in content
