"""Arena reports: a Rich leaderboard in the terminal, a self-contained HTML report (plotly, JS inlined so it
works offline), a PNG (matplotlib) and Markdown.

Per skill: the leaderboard (score, key metrics, fallback rate, rating with what the data support), the
paired comparisons (mean per-item difference, 95% interval, verdict), the routing decision the evidence
supports, and three charts: score vs p95 latency, score vs cost per item (tokens per item when every cost is
0, so the axis means something), both with the Pareto frontier, and a RouteLLM-style cost–quality curve
(quality against the share of calls sent to the costlier backend: random mixing, the oracle router, and
the chosen operating point). Candidates are told apart by colour and a legend, never by text next to the
points, so labels cannot overprint or be clipped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fincopilot.agents.skills import get_skill
from fincopilot.config import settings
from fincopilot.errors import NotFoundError
from fincopilot.evals.arena import (
    CandidateSummary,
    item_scores,
    latest_runs,
    leaderboard,
    route_from_run,
    stored_pairs,
)

# open symbols of shrinking size: candidates at the same point stay visible (no text labels to overprint)
SYMBOLS = [
    "circle-open",
    "square-open",
    "triangle-up-open",
    "diamond-open",
    "triangle-down-open",
    "cross-open",
    "x-open",
    "hexagon-open",
]
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def collect(
    db: Path | None = None, skill: str | None = None
) -> list[tuple[dict[str, Any], list[CandidateSummary]]]:
    """(run, leaderboard) for the latest run of each skill (or of `skill`)."""

    runs = latest_runs(db, skill)
    if not runs:
        raise NotFoundError(
            "no arena results yet"
            + (f" for skill {skill!r}" if skill else "")
            + ": run `fincopilot arena run --skill S --backends ...` first"
        )
    for r in runs:
        r["db"] = db
    return [(r, leaderboard(r["run_id"], db)) for r in runs]


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points on the frontier for (cost-like x: lower is better, score y: higher is better)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return front


_PLANNER_METRICS = ["skill_f1", "valid_before_repair", "step_f1"]


def _key_metrics(skill: str) -> list[str]:
    """The metrics a leaderboard shows: the planner's, or the headline metrics the skill declares."""
    if skill == "planner":
        return _PLANNER_METRICS

    try:
        return list(get_skill(skill).evaluation.headline)
    except NotFoundError:  # a stored run of a skill that is no longer installed
        return []


def rating_text(s: CandidateSummary) -> str:
    """The rating as far as the data support it: a number with its interval, a bound, or why there is none."""
    if s.rating_status is None and s.rating is None:
        return "-"
    if s.rating_status in ("undefeated", "winless", "unbounded"):
        return f"no finite rating; {s.rating_note}"
    if s.rating_status == "insufficient_evidence":
        return f"insufficient evidence ({s.rating_note})" if s.rating_note else "insufficient evidence"
    lo = f"{s.ci_low:.0f}" if s.ci_low is not None else "open"
    hi = f"{s.ci_high:.0f}" if s.ci_high is not None else "open"
    return f"{s.rating:.0f} [{lo}, {hi}]"


def table_rows(skill: str, board: list[CandidateSummary]) -> tuple[list[str], list[list[str]]]:
    metrics = _key_metrics(skill)
    header = [
        "candidate",
        "score",
        *metrics,
        "fallback rate",
        "BT rating [95% CI]",
        "p50 s",
        "p95 s",
        "tokens/item",
        "cost/item",
        "errors",
    ]
    rows = []
    for s in board:
        rows.append(
            [
                s.candidate,
                f"{s.score:.3f}",
                *[_metric(s, m) for m in metrics],
                f"{s.fallback_rate:.0%} ({s.fallbacks}/{s.items})",
                rating_text(s),
                f"{s.p50_latency_s:.2f}",
                f"{s.p95_latency_s:.2f}",
                f"{s.mean_tokens:.0f}",
                f"{s.cost_per_item:.5f}",
                str(s.errors),
            ]
        )
    return header, rows


def _metric(s: CandidateSummary, name: str) -> str:
    value = s.metrics.get(name)
    return "-" if value is None else f"{value:.3f}"


def pair_lines(run: dict[str, Any]) -> list[str]:
    return [p.describe() for p in stored_pairs(run["run_id"], run.get("db"))]


def decision(run: dict[str, Any], board: list[CandidateSummary]):
    """The routing decision the run's evidence supports (what `arena promote` would write without a table)."""

    return route_from_run(run, board, settings(), run.get("db"))


def print_leaderboard(data, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
            console = Console(width=max(console.width, 160))
    for run, board in data:
        header, rows = table_rows(run["skill"], board)
        t = Table(
            title=f"{run['skill']} · run {run['run_id']} · {run['n_items']} items ({run['split']}) · "
            f"dataset {run['dataset_version']}" + (f" · judge {run['judge']}" if run["judge"] else "")
        )
        for h in header:
            t.add_column(h, justify="left" if h in ("candidate", "BT rating [95% CI]") else "right")
        for r in rows:
            t.add_row(*[escape(c) for c in r])  # "[open, open]" is text, not Rich markup
        console.print(t)
        for line in pair_lines(run):
            console.print(f"  paired: {line}", highlight=False, markup=False)
        route = decision(run, board)
        console.print(
            f"  routing: {' → '.join(route.chain) or '(none)'} — {route.reason}",
            highlight=False,
            markup=False,
        )


def markdown_leaderboard(data) -> str:
    out = []
    for run, board in data:
        header, rows = table_rows(run["skill"], board)
        out.append(
            f"### {run['skill']} — run `{run['run_id']}`, {run['n_items']} items ({run['split']}), "
            f"dataset `{run['dataset_version']}`\n"
        )
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" if h == "candidate" else "---:" for h in header) + "|")
        out += ["| " + " | ".join(r) + " |" for r in rows]
        out.append("")
        out += [f"- paired: {line}" for line in pair_lines(run)]
        route = decision(run, board)
        out += [f"- routing: {' → '.join(route.chain) or '(none)'} — {route.reason}", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ chart data
def cost_axis(board: list[CandidateSummary]) -> tuple[str, list[float]]:
    """The second chart's x axis: cost per item, or tokens per item when every cost is 0."""
    costs = [s.cost_per_item for s in board]
    if any(c > 0 for c in costs):
        return "cost per item", costs
    return "tokens per item (every cost is 0)", [s.mean_tokens for s in board]


def _cost_key(s: CandidateSummary) -> tuple[float, float, float]:
    return (s.cost_per_item, s.p95_latency_s, s.mean_tokens)


class CostQualityCurve(BaseModel):
    """RouteLLM-style: quality when a share of the calls goes to the costlier of two candidates."""

    cheap: str
    costly: str
    cost_basis: str
    shares: list[float]
    random: list[float]
    oracle: list[float]
    chosen: str | None
    chosen_share: float | None
    chosen_quality: float | None


def cost_quality_curve(
    board: list[CandidateSummary], scores: dict[str, dict[str, float]], chosen: str | None
) -> CostQualityCurve | None:
    """Cheap = the lowest cost (then latency, tokens); costly = the best-scoring other candidate. Random
    mixing interpolates their means; the oracle sends to the costly one the items where it gains most."""
    if len(board) < 2:
        return None
    cheap = min(board, key=_cost_key)
    costly = max((s for s in board if s is not cheap), key=lambda s: (s.score, _cost_key(s)))
    items = [per for per in scores.values() if cheap.candidate in per and costly.candidate in per]
    if not items:
        return None
    weak = [per[cheap.candidate] for per in items]
    gains = sorted((per[costly.candidate] - per[cheap.candidate] for per in items), reverse=True)
    n = len(items)
    shares = [i / n for i in range(n + 1)]
    base = sum(weak) / n
    oracle = [base + sum(gains[:i]) / n for i in range(n + 1)]
    strong = base + sum(gains) / n
    random = [(1 - a) * base + a * strong for a in shares]
    share = {cheap.candidate: 0.0, costly.candidate: 1.0}.get(chosen or "")
    basis = "cost" if costly.cost_per_item > cheap.cost_per_item else "p95 latency"
    return CostQualityCurve(
        cheap=cheap.candidate,
        costly=costly.candidate,
        cost_basis=basis,
        shares=shares,
        random=random,
        oracle=oracle,
        chosen=chosen,
        chosen_share=share,
        chosen_quality=None if share is None else (strong if share else base),
    )


def _skill_views(run: dict[str, Any], board: list[CandidateSummary]):
    route = decision(run, board)
    curve = cost_quality_curve(
        board, item_scores(run["run_id"], run.get("db")), route.chain[0] if route.chain else None
    )
    return route, curve


# ------------------------------------------------------------------------------------------------ HTML
_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1280px;padding:0 1em}"
    ".wrap{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:0.92em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}"
    "td:first-child,th:first-child{text-align:left;white-space:nowrap}"
    "td.rating{text-align:left;max-width:22em}ul.ev{font-size:0.92em}code{white-space:nowrap}"
)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    rating_col = header.index("BT rating [95% CI]")
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td class='rating'>{html.escape(c)}</td>" if i == rating_col else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    # metric names wrap at their underscores, so a wide table fits the page instead of scrolling
    heads = "".join(f"<th>{html.escape(h).replace('_', '_<wbr>')}</th>" for h in header)
    return "<div class='wrap'><table><tr>" + heads + "</tr>" + cells + "</table></div>"


def _scatter_traces(fig, board: list[CandidateSummary], col: int, xs: list[float], first: bool) -> None:
    import plotly.graph_objects as go

    for i, s in enumerate(board):
        marker = {
            "size": max(8, 18 - 4 * i),
            "color": PALETTE[i % len(PALETTE)],
            "symbol": SYMBOLS[i % len(SYMBOLS)],
            "line": {"width": 2},
        }
        fig.add_trace(
            go.Scatter(
                x=[xs[i]],
                y=[s.score],
                mode="markers",
                name=s.candidate,
                legendgroup=s.candidate,
                showlegend=first,
                marker=marker,
                hovertemplate=f"{html.escape(s.candidate)}<br>x=%{{x:.3g}}<br>score=%{{y:.3f}}"
                "<extra></extra>",
                cliponaxis=False,
            ),
            row=1,
            col=col,
        )
    front = sorted(pareto_front(list(zip(xs, [s.score for s in board]))), key=lambda i: xs[i])
    fig.add_trace(
        go.Scatter(
            x=[xs[i] for i in front],
            y=[board[i].score for i in front],
            mode="lines+markers",
            name="Pareto frontier",
            legendgroup="pareto",
            showlegend=first,
            line={"dash": "dash", "color": "crimson"},
            marker={"symbol": "star", "size": 7},
            hoverinfo="skip",
        ),
        row=1,
        col=col,
    )


def _curve_traces(fig, curve: CostQualityCurve | None, col: int) -> None:
    import plotly.graph_objects as go

    if curve is None:
        return
    pct = [100 * a for a in curve.shares]
    fig.add_trace(
        go.Scatter(x=pct, y=curve.random, mode="lines", name="random mixing", line={"color": "gray"}),
        row=1,
        col=col,
    )
    fig.add_trace(
        go.Scatter(
            x=pct,
            y=curve.oracle,
            mode="lines",
            name="oracle router (upper bound)",
            line={"color": "seagreen", "dash": "dot"},
        ),
        row=1,
        col=col,
    )
    if curve.chosen_share is not None:
        fig.add_trace(
            go.Scatter(
                x=[100 * curve.chosen_share],
                y=[curve.chosen_quality],
                mode="markers",
                name=f"chosen: {curve.chosen}",
                cliponaxis=False,
                marker={"symbol": "star", "size": 16, "color": "black"},
            ),
            row=1,
            col=col,
        )


def _figure(skill: str, board: list[CandidateSummary], curve: CostQualityCurve | None):
    from plotly.subplots import make_subplots

    cost_label, cost_xs = cost_axis(board)
    third = f"quality vs % calls to {curve.costly}" if curve else "cost–quality curve (needs 2 candidates)"
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.08,
        subplot_titles=("score vs p95 latency (s)", f"score vs {cost_label}", third),
    )
    _scatter_traces(fig, board, 1, [s.p95_latency_s for s in board], True)
    _scatter_traces(fig, board, 2, cost_xs, False)
    _curve_traces(fig, curve, 3)
    fig.update_yaxes(title_text="score", range=[-0.05, 1.1], automargin=True)
    fig.update_xaxes(automargin=True)
    fig.update_xaxes(title_text="p95 latency (s)", row=1, col=1)
    fig.update_xaxes(title_text=cost_label, row=1, col=2)
    if curve:
        fig.update_xaxes(
            title_text=f"% of calls to {curve.costly} (rest: {curve.cheap})", range=[-3, 103], row=1, col=3
        )
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=480,
        title=skill,
        margin={"l": 60, "r": 30, "t": 80, "b": 140},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
    )
    return fig


def _skill_section(run: dict[str, Any], board: list[CandidateSummary], first: bool) -> list[str]:
    skill = run["skill"]
    header, rows = table_rows(skill, board)
    route, curve = _skill_views(run, board)
    pairs = pair_lines(run)
    intro = (
        f"<h2>{html.escape(skill)}</h2><p>run <code>{html.escape(run['run_id'])}</code>, "
        f"{run['n_items']} items ({html.escape(run['split'])}), dataset "
        f"<code>{html.escape(run['dataset_version'])}</code>, seed {run['seed']}</p>"
    )
    evidence = (
        (
            "<p><b>Paired comparisons</b> (mean per-item score difference, 95% paired bootstrap interval):</p>"
            "<ul class='ev'>" + "".join(f"<li>{html.escape(p)}</li>" for p in pairs) + "</ul>"
        )
        if pairs
        else ""
    )
    routing = f"<p><b>Routing</b>: {html.escape(' → '.join(route.chain) or '(none)')} — {html.escape(route.reason)}</p>"
    parts = [intro, _html_table(header, rows), evidence, routing]
    if curve:
        parts.append(
            f"<p>Cost–quality curve: {html.escape(curve.cheap)} is the cheaper backend (by "
            f"{curve.cost_basis}), {html.escape(curve.costly)} the costlier; the star is the chosen "
            "operating point.</p>"
        )
    parts.append(
        _figure(skill, board, curve).to_html(
            full_html=False,
            include_plotlyjs="inline" if first else False,
            div_id=f"chart-{skill}",
            config={"responsive": True},
        )
    )
    return parts


def write_html(data, path: Path) -> Path:
    """One self-contained HTML file: per skill the tables, evidence, routing decision and three charts."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>FinCopilot arena report</title>",
        f"<style>{_CSS}</style></head><body><h1>FinCopilot arena report</h1>",
        (
            "<p>Score = the skill's primary metric (docs/arena.md); an item a candidate answered through a fallback "
            "(rules, template, extractive) scores 0 for it and counts in its fallback rate. BT rating: "
            "Bradley–Terry on the Elo scale with item-level bootstrap 95% CIs, or why the data give none. "
            "Pareto frontier: candidates no other beats on both score and the x axis.</p>"
        ),
    ]
    for i, (run, board) in enumerate(data):
        parts += _skill_section(run, board, i == 0)
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ PNG
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "h"]


def _png_scatter(ax, board: list[CandidateSummary], xs: list[float], xlabel: str, legend: bool) -> None:
    """Hollow markers of different shapes and shrinking sizes: coincident candidates stay visible."""
    front = set(pareto_front(list(zip(xs, [s.score for s in board]))))
    for i, s in enumerate(board):
        ax.scatter(
            [xs[i]],
            [s.score],
            s=max(50, 240 - 60 * i),
            zorder=3,
            marker=MARKERS[i % len(MARKERS)],
            facecolors="none",
            edgecolors=PALETTE[i % len(PALETTE)],
            linewidths=2,
            label=s.candidate,
        )
    order = sorted(front, key=lambda i: xs[i])
    ax.plot(
        [xs[i] for i in order],
        [board[i].score for i in order],
        "--",
        color="crimson",
        zorder=2,
        marker="*",
        markersize=7,
        label="Pareto frontier",
    )
    ax.set_ylim(-0.05, 1.1)
    ax.margins(x=0.08)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("score", fontsize=9)
    ax.grid(alpha=0.3)
    if legend:  # below the axes, never over the points
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=3, frameon=False)


def _png_curve(ax, curve: CostQualityCurve | None) -> None:
    if curve is None:
        ax.text(0.5, 0.5, "needs two candidates", ha="center", va="center", transform=ax.transAxes)
        return
    pct = [100 * a for a in curve.shares]
    ax.plot(pct, curve.random, color="gray", label="random mixing")
    ax.plot(pct, curve.oracle, ":", color="seagreen", label="oracle router")
    if curve.chosen_share is not None:
        ax.scatter(
            [100 * curve.chosen_share],
            [curve.chosen_quality],
            marker="*",
            s=220,
            color="black",
            zorder=4,
            label=f"chosen: {curve.chosen}",
        )
    ax.set_xlim(-3, 103)
    ax.set_ylim(-0.05, 1.1)
    ax.set_xlabel(f"% of calls to {curve.costly}\n(rest: {curve.cheap})", fontsize=9)
    ax.set_ylabel("quality (mean score)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.3), ncol=2, frameon=False)


def write_png(data, path: Path) -> Path:
    """A grid, one row per skill: score vs p95 latency, score vs cost (or tokens), cost–quality curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(data)
    fig, axes = plt.subplots(n, 3, figsize=(15, 5.0 * n), squeeze=False, layout="constrained")
    for r, (run, board) in enumerate(data):
        _, curve = _skill_views(run, board)
        cost_label, cost_xs = cost_axis(board)
        _png_scatter(axes[r][0], board, [s.p95_latency_s for s in board], "p95 latency (s)", True)
        _png_scatter(axes[r][1], board, cost_xs, cost_label, False)
        _png_curve(axes[r][2], curve)
        axes[r][0].set_title(f"{run['skill']}: score vs p95 latency", fontsize=10)
        axes[r][1].set_title(f"{run['skill']}: score vs {cost_label.split(' (')[0]}", fontsize=10)
        axes[r][2].set_title(f"{run['skill']}: cost–quality (RouteLLM-style)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
