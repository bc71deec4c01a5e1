"""Model backends behind one small protocol, the registry of backend kinds, and the router."""

from fincopilot.models import adapter_card  # noqa: F401 - registers the fine-tuned adapters as backends
from fincopilot.models.base import Backend
from fincopilot.models.messages import Completion, Message, Usage, messages
from fincopilot.models.registry import get_backend, list_kinds, register_kind

__all__ = [
    "Backend",
    "Completion",
    "Message",
    "Usage",
    "messages",
    "get_backend",
    "list_kinds",
    "register_kind",
]
