"""The server's thread bookkeeping lives in the state layer (`fincopilot.state.threads`), shared with the CLI
so every thread has an owner from creation; this module names it for the server."""

from __future__ import annotations

from fincopilot.state.threads import ThreadIndex, ThreadOwner, conversation_hash

__all__ = ["ThreadIndex", "ThreadOwner", "conversation_hash"]
