"""Imports every module that registers a built-in tool, so `list_tools()` sees them all."""
