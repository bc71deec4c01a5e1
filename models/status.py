"""Is a backend usable? A cheap check (files, packages) for `models list` and `doctor`, and a warm-up that
loads the default model at start (`serve`, `chat`) so a missing or broken model is reported loudly, up front."""

from __future__ import annotations

import importlib.util

from fincopilot.config import BackendSpec, Settings, settings
from fincopilot.errors import FinCopilotError
from fincopilot.models.backends.transformers import resolve_model_ref
from fincopilot.models.registry import get_backend

LOCAL_KINDS = {"transformers": "transformers", "llamacpp": "xllamacpp", "vllm": "vllm"}


def backend_status(spec: BackendSpec) -> tuple[str, str]:
    """`(status, detail)` without loading weights: ok, missing (file or package), or remote (not probed)."""
    package = LOCAL_KINDS.get(spec.kind)
    if package is None:
        return (
            ("remote", "served elsewhere; not probed") if spec.kind != "scripted" else ("ok", "scripted fake")
        )
    if importlib.util.find_spec(package) is None:
        return "missing", f"the {package} package is not installed (pip install {package})"
    try:
        folder, gguf = resolve_model_ref(spec.model)
    except FinCopilotError as err:
        return "missing", str(err)
    if spec.kind == "llamacpp" and not gguf:
        return "broken", f"{spec.model!r} is not a GGUF file; the llamacpp kind runs GGUF files"
    return "ok", f"{folder}/{gguf}" if gguf else folder


def warm_default(config: Settings | None = None) -> str | None:
    """Load the default backend's model now (kept for the process); the problem as one line, or None."""
    cfg = config or settings()
    spec = cfg.backend(cfg.default_backend)
    try:
        get_backend(spec.id, cfg).load()
    except FinCopilotError as err:
        return (
            f"the default model backend {spec.id!r} cannot load ({err}); answers will come from rules and "
            f"templates only. Run `fincopilot doctor` to see what to install."
        )
    return None
