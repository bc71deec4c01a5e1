"""Arena reports: a Rich leaderboard in the terminal, a self-contained HTML report (plotly, JS inlined so it
works offline) and a PNG (matplotlib), each with per-skill score-vs-latency and score-vs-cost charts and the
Pareto frontier (no other candidate is at least as good on both axes and better on one) marked.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fincopilot.evals.arena import CandidateSummary, latest_runs, leaderboard


def collect(db: Path | None = None, skill: str | None = None) -> list[tuple[dict[str, Any], list[CandidateSummary]]]:
    """(run, leaderboard) for the latest run of each skill (or of `skill`)."""
    from fincopilot.errors import NotFoundError

    runs = latest_runs(db, skill)
    if not runs:
        raise NotFoundError("no arena results yet" + (f" for skill {skill!r}" if skill else "")
                            + ": run `fincopilot arena run --skill S --backends ...` first")
    return [(r, leaderboard(r["run_id"], db)) for r in runs]


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points on the frontier for (cost-like x: lower is better, score y: higher is better)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


_PLANNER_METRICS = ["skill_f1", "valid_before_repair", "step_f1"]


def _key_metrics(skill: str) -> list[str]:
    """The metrics a leaderboard shows: the planner's, or the headline metrics the skill declares."""
    if skill == "planner":
        return _PLANNER_METRICS
    from fincopilot.agents.skills import get_skill
    from fincopilot.errors import NotFoundError

    try:
        return list(get_skill(skill).evaluation.headline)
    except NotFoundError:  # a stored run of a skill that is no longer installed
        return []


def _rating(s: CandidateSummary) -> str:
    if s.rating is None:
        return "-"
    return f"{s.rating:.0f} [{s.ci_low:.0f}, {s.ci_high:.0f}]"


def table_rows(skill: str, board: list[CandidateSummary]) -> tuple[list[str], list[list[str]]]:
    metrics = _key_metrics(skill)
    header = ["candidate", "score", *metrics, "BT rating [95% CI]", "p50 s", "p95 s", "tokens/item", "cost/item",
              "errors"]
    rows = []
    for s in board:
        rows.append([s.candidate, f"{s.score:.3f}", *[f"{s.metrics.get(m, float('nan')):.3f}" for m in metrics],
                     _rating(s), f"{s.p50_latency_s:.2f}", f"{s.p95_latency_s:.2f}", f"{s.mean_tokens:.0f}",
                     f"{s.cost_per_item:.5f}", str(s.errors)])
    return header, rows


def print_leaderboard(data, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
            console = Console(width=max(console.width, 160))
    for run, board in data:
        header, rows = table_rows(run["skill"], board)
        t = Table(title=f"{run['skill']} · run {run['run_id']} · {run['n_items']} items ({run['split']}) · "
                        f"dataset {run['dataset_version']}" + (f" · judge {run['judge']}" if run["judge"] else ""))
        for h in header:
            t.add_column(h, justify="left" if h == "candidate" else "right")
        for r in rows:
            t.add_row(*r)
        console.print(t)


def markdown_leaderboard(data) -> str:
    out = []
    for run, board in data:
        header, rows = table_rows(run["skill"], board)
        out.append(f"### {run['skill']} — run `{run['run_id']}`, {run['n_items']} items ({run['split']}), "
                   f"dataset `{run['dataset_version']}`\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" if h == "candidate" else "---:" for h in header) + "|")
        out += ["| " + " | ".join(r) + " |" for r in rows]
        out.append("")
    return "\n".join(out)


def _xs(board: list[CandidateSummary], axis: str) -> list[float]:
    return [s.p95_latency_s if axis == "latency" else s.cost_per_item for s in board]


def write_html(data, path: Path) -> Path:
    """One self-contained HTML file: tables plus, per skill, score vs p95 latency and score vs cost."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>FinCopilot arena report</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
             "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,"
             "th:first-child{text-align:left}</style></head><body><h1>FinCopilot arena report</h1>",
             "<p>Score = the skill's primary metric (see docs/arena.md). BT rating: Bradley–Terry on the Elo scale "
             "with bootstrap 95% CIs. Pareto frontier: candidates no other beats on both score and the x axis.</p>"]
    first = True
    for run, board in data:
        skill = run["skill"]
        header, rows = table_rows(skill, board)
        parts.append(f"<h2>{html.escape(skill)}</h2><p>run <code>{html.escape(run['run_id'])}</code>, "
                     f"{run['n_items']} items ({html.escape(run['split'])}), dataset "
                     f"<code>{html.escape(run['dataset_version'])}</code>, seed {run['seed']}</p>")
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                     + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                     + "</table>")
        fig = make_subplots(rows=1, cols=2, subplot_titles=("score vs p95 latency (s)", "score vs cost per item"))
        for col, axis in ((1, "latency"), (2, "cost")):
            xs, ys = _xs(board, axis), [s.score for s in board]
            names = [s.candidate for s in board]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=names, textposition="top center",
                                     name=f"candidates ({axis})", marker={"size": 11}), row=1, col=col)
            front = sorted(pareto_front(list(zip(xs, ys))), key=lambda i: xs[i])
            fig.add_trace(go.Scatter(x=[xs[i] for i in front], y=[ys[i] for i in front], mode="lines+markers",
                                     name=f"Pareto frontier ({axis})", line={"dash": "dash", "color": "crimson"},
                                     marker={"symbol": "star", "size": 14, "color": "crimson"}), row=1, col=col)
        fig.update_yaxes(title_text="score", range=[-0.05, 1.1])
        fig.update_layout(height=420, title=f"{skill}", showlegend=True)
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if first else False,
                                 div_id=f"chart-{skill}"))
        first = False
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_png(data, path: Path) -> Path:
    """A grid: one row per skill, score vs p95 latency and score vs cost, Pareto frontier dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(data)
    fig, axes = plt.subplots(n, 2, figsize=(11, 3.6 * n), squeeze=False)
    for r, (run, board) in enumerate(data):
        for c, axis in enumerate(("latency", "cost")):
            ax = axes[r][c]
            xs, ys = _xs(board, axis), [s.score for s in board]
            ax.scatter(xs, ys, s=50, zorder=3)
            for x, y, s in zip(xs, ys, board):
                ax.annotate(s.candidate, (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
            front = sorted(pareto_front(list(zip(xs, ys))), key=lambda i: xs[i])
            ax.plot([xs[i] for i in front], [ys[i] for i in front], "--*", color="crimson", markersize=11,
                    label="Pareto frontier", zorder=2)
            ax.set_ylim(-0.05, 1.1)
            ax.set_xlabel("p95 latency (s)" if axis == "latency" else "cost per item")
            ax.set_ylabel("score")
            ax.set_title(f"{run['skill']}: score vs {'p95 latency' if axis == 'latency' else 'cost'}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
