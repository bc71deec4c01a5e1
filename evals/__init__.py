"""Eval sets, metrics, the model arena (Bradley–Terry leaderboards) and its reports."""
