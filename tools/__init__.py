"""Traditional risk models and data access as typed tools (pydantic in, pydantic out)."""

from fincopilot.tools.registry import Tool, get_tool, list_tools, tool

__all__ = ["Tool", "get_tool", "list_tools", "tool"]
