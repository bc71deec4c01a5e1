"""LangGraph graphs: the advisor copilot (plan → parallel steps → synthesize → compliance gate)."""
