"""The developer example from docs/developer.md (kept verbatim; tests/test_developer_example.py checks both).

`langgraph dev` loads it through langgraph.json (`make_fx_graph`).
"""
# ruff: noqa: E302, E305, I001  (kept compact: it is the README example)

# --- example: start (the exact snippet shown in docs/developer.md) ---
import re
from pydantic import BaseModel
from fincopilot import Rendered, SkillContext, skill

class FxArgs(BaseModel):
    pair: str  # e.g. "USD/CNY"

class FxQuote(BaseModel):
    pair: str
    rate: float
    sources: list[str]

PAIR = r"\b[A-Z]{3}/[A-Z]{3}\b"

@skill(name="fx_quote", args=FxArgs, output=FxQuote, description="Spot FX rate for a currency pair like USD/CNY.",
       examples=[("What is the USD/CNY rate?", {"pair": "USD/CNY"})],  # planner prompt and corpus
       intent=rf"exchange rate|\bfx\b|汇率|{PAIR}",  # the rules planner recognises the request...
       plan_args=lambda e: [{"pair": p} for p in re.findall(PAIR, e.request)],  # ...and writes the step
       render=lambda out: Rendered(text=f"{out['pair']} is at {out['rate']}."))  # how answers show the output
def fx_quote(args: FxArgs, ctx: SkillContext) -> FxQuote:
    rates = {"USD/CNY": 7.12, "EUR/CNY": 7.71}  # a real skill calls a tool: ctx.call_tool(...)
    return FxQuote(pair=args.pair, rate=rates[args.pair.upper()], sources=["fx:demo-rates"])
# --- example: end ---

from typing import TypedDict
from langgraph.graph import END, START, StateGraph
from fincopilot.graphs.nodes import skill_node

class FxState(TypedDict, total=False):
    pair: str
    quote: dict

builder = StateGraph(FxState)
builder.add_node("quote", skill_node("fx_quote", args=lambda s: {"pair": s["pair"]}, into="quote"))
builder.add_edge(START, "quote")
builder.add_edge("quote", END)
fx_graph = builder.compile()


def make_fx_graph():
    """Factory for `langgraph dev`."""
    return fx_graph
