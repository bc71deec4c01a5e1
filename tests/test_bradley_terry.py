"""Bradley–Terry ratings (LMSYS-style MLE + item-level bootstrap CIs) on simulated and scripted pairwise
outcomes (scripted fakes, named as such): recovery, CIs, and no numbers the data do not support."""

from __future__ import annotations

import numpy as np
import pytest

from fincopilot.evals.bradley_terry import (
    Battle,
    Rating,
    _item_groups,
    battles_from_scores,
    compute_mle_elo,
    margin_bound,
    ratings_with_ci,
    separates,
)

TRUE = {"alpha": 1250.0, "beta": 1100.0, "gamma": 1000.0, "delta": 850.0}


def simulate(n: int, seed: int, tie_rate: float = 0.0) -> list[Battle]:
    """Battles drawn from the Bradley–Terry model with the TRUE ratings (Elo scale, base 10, 400)."""
    rng = np.random.default_rng(seed)
    names = sorted(TRUE)
    out = []
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p_a = 1 / (1 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        u = rng.random()
        winner = "tie" if u < tie_rate else ("a" if rng.random() < p_a else "b")
        out.append(Battle(model_a=str(a), model_b=str(b), winner=winner))
    return out


def test_recovers_known_ordering_and_gaps():
    ratings = compute_mle_elo(simulate(3000, seed=1))
    assert sorted(ratings, key=ratings.get, reverse=True) == ["alpha", "beta", "gamma", "delta"]
    # differences (the identifiable part) within 60 Elo points of the truth
    for a, b in (("alpha", "delta"), ("beta", "gamma")):
        assert abs((ratings[a] - ratings[b]) - (TRUE[a] - TRUE[b])) < 60
    assert abs(np.mean(list(ratings.values())) - 1000) < 1.0  # centred on INIT_RATING


def test_confidence_intervals_shrink_with_more_data():
    small = {r.model: r for r in ratings_with_ci(simulate(150, seed=2), rounds=60, seed=0)}
    large = {r.model: r for r in ratings_with_ci(simulate(3000, seed=2), rounds=60, seed=0)}
    for m in TRUE:
        assert small[m].ci_low <= small[m].rating <= small[m].ci_high
        assert (large[m].ci_high - large[m].ci_low) < 0.6 * (small[m].ci_high - small[m].ci_low)
    assert [r.model for r in ratings_with_ci(simulate(3000, seed=2), rounds=20)] == [
        "alpha",
        "beta",
        "gamma",
        "delta",
    ]


def test_ties_count_half_and_undefeated_stays_finite():
    tied = compute_mle_elo([Battle(model_a="x", model_b="y", winner="tie")] * 20)
    assert abs(tied["x"] - tied["y"]) < 1e-6
    swept = compute_mle_elo([Battle(model_a="x", model_b="y", winner="a")] * 20)
    assert np.isfinite(swept["x"]) and swept["x"] > swept["y"]


def test_bootstrap_is_deterministic_per_seed():
    battles = simulate(300, seed=3, tie_rate=0.1)
    a = ratings_with_ci(battles, rounds=30, seed=7)
    b = ratings_with_ci(battles, rounds=30, seed=7)
    assert [r.model_dump() for r in a] == [r.model_dump() for r in b]


def test_battles_from_scores_pairs_every_candidate_per_item():
    battles = battles_from_scores(
        {"i1": {"a": 1.0, "b": 0.5, "c": 0.5}, "i2": {"a": 0.0, "b": 0.0, "c": 1.0}}
    )
    outcome = {(b.item_id, b.model_a, b.model_b): b.winner for b in battles}
    assert outcome == {
        ("i1", "a", "b"): "a",
        ("i1", "a", "c"): "a",
        ("i1", "b", "c"): "tie",
        ("i2", "a", "b"): "tie",
        ("i2", "a", "c"): "b",
        ("i2", "b", "c"): "b",
    }


# --- evidence: no numbers the data do not support (scripted outcomes, named as such) ------------------------
def _sweep(n: int, winner: str = "a") -> list[Battle]:
    """A SCRIPTED record: model x beats model y on every one of n items."""
    return [Battle(model_a="x", model_b="y", winner=winner, item_id=f"i{i}") for i in range(n)]


def test_an_undefeated_model_gets_a_data_driven_bound_not_a_ridge_artefact():
    ratings = {r.model: r for r in ratings_with_ci(_sweep(8), rounds=200)}
    x, y = ratings["x"], ratings["y"]
    assert (x.status, y.status) == ("undefeated", "winless")
    assert x.rating is None and y.rating is None  # no "2031 vs −31"
    # Clopper–Pearson: 8 wins out of 8 → p ≥ 0.025^(1/8) = 0.631 → ≥ 93 Elo; more wins, larger bound
    assert x.note == "undefeated: at least 93 Elo above the others (95%; 8 wins, 0 losses)"
    assert y.note == "winless: at least 93 Elo below the others (95%; 0 wins, 8 losses)"
    assert margin_bound(8) == pytest.approx(92.9, abs=0.1) and margin_bound(40) > margin_bound(8)


def test_all_ties_are_insufficient_evidence_not_a_zero_width_interval():
    tied = [Battle(model_a="x", model_b="y", winner="tie", item_id=f"i{i}") for i in range(30)]
    for r in ratings_with_ci(tied, rounds=200):
        assert r.status == "insufficient_evidence" and r.decisive == 0


def test_item_level_bootstrap_keeps_an_items_battles_together_and_defaults_to_1000_rounds():
    import inspect

    assert inspect.signature(ratings_with_ci).parameters["rounds"].default >= 1000
    # three models on 40 items; each item's three battles are resampled together
    rng = np.random.default_rng(0)
    scores = {
        f"i{i}": {
            "a": float(rng.random() < 0.8),
            "b": float(rng.random() < 0.5),
            "c": float(rng.random() < 0.2),
        }
        for i in range(40)
    }
    battles = battles_from_scores(scores)
    assert len(_item_groups(battles)) == 40 and all(len(g) == 3 for g in _item_groups(battles))
    ratings = {r.model: r for r in ratings_with_ci(battles, rounds=300)}
    assert all(r.status == "rated" and r.ci_low < r.rating < r.ci_high for r in ratings.values())
    assert separates(ratings["a"], ratings["c"])


def test_separates_only_when_intervals_do_not_overlap():
    def rated(lo, hi, status="rated"):
        return Rating(
            model="m", rating=(lo + hi) / 2, ci_low=lo, ci_high=hi, battles=10, wins=5, status=status
        )

    assert not separates(rated(956, 1044), rated(960, 1040))  # the overlapping "956–1044"
    assert separates(rated(1050, 1100), rated(950, 1040))
    assert not separates(rated(1050, 1100), rated(950, 1040, "insufficient_evidence"))


def test_newton_solver_matches_lmsys_scikit_learn_fit():
    from sklearn.linear_model import LogisticRegression

    from fincopilot.evals.bradley_terry import RIDGE_C, _encode, _fit_table, _win_table

    battles = simulate(500, seed=5, tie_rate=0.1)
    names = sorted(TRUE)
    wins = _win_table(*_encode(battles, names), len(names))
    ri, rj = np.nonzero(wins)
    n, lb = len(ri), np.log(10)
    X = np.zeros((2 * n, 4))
    X[np.arange(n), ri], X[np.arange(n), rj] = lb, -lb
    X[n + np.arange(n), rj], X[n + np.arange(n), ri] = lb, -lb
    lr = LogisticRegression(fit_intercept=False, C=RIDGE_C, tol=1e-10, max_iter=5000)
    lr.fit(X, np.r_[np.ones(n), np.zeros(n)], sample_weight=np.r_[wins[ri, rj], wins[ri, rj]])
    assert np.allclose(_fit_table(wins, 400, 10, 1000), 400 * lr.coef_[0] + 1000, atol=0.05)
