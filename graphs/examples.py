"""The developer example from docs/developer.md (kept verbatim; tests/test_developer_example.py checks both).

`langgraph dev` loads it through langgraph.json (`make_fx_graph`).
"""
# ruff: noqa: E302, E305, I001  (kept compact: it is the README example)

# --- example: start (the exact snippet shown in docs/developer.md) ---
from typing import TypedDict
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from fincopilot.agents.skills import SkillContext, skill
from fincopilot.graphs.nodes import skill_node

class FxArgs(BaseModel):
    pair: str  # e.g. "USD/CNY"

class FxQuote(BaseModel):
    pair: str
    rate: float
    sources: list[str]

@skill(name="fx_quote", args=FxArgs, output=FxQuote, description="Spot FX rate for a currency pair like USD/CNY.")
def fx_quote(args: FxArgs, ctx: SkillContext) -> FxQuote:
    rates = {"USD/CNY": 7.12, "EUR/CNY": 7.71}  # a real skill calls a tool: ctx.call_tool(...)
    return FxQuote(pair=args.pair, rate=rates[args.pair.upper()], sources=["fx:demo-rates"])

class FxState(TypedDict, total=False):
    pair: str
    quote: dict

builder = StateGraph(FxState)
builder.add_node("quote", skill_node("fx_quote", args=lambda s: {"pair": s["pair"]}, into="quote"))
builder.add_edge(START, "quote")
builder.add_edge("quote", END)
fx_graph = builder.compile()
# --- example: end ---


def make_fx_graph():
    """Factory for `langgraph dev`."""
    return fx_graph
