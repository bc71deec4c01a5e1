"""Advisor interfaces: OpenAI-compatible API, web chat page, terminal chat."""
