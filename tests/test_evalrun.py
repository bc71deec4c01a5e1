"""What the model evaluations share (`fincopilot.evals.evalrun`): their options and the files a run writes."""

from __future__ import annotations

import argparse
import json

import pytest

from fincopilot.evals import summary_eval
from fincopilot.evals.evalrun import adapters_of, add_model_args


def _parse(argv):
    ap = argparse.ArgumentParser()
    add_model_args(ap)
    return ap.parse_args(argv)


def test_adapter_options_become_a_backend_to_path_mapping():
    args = _parse(["--adapter", "smollm2-135m=models/adapters/x", "--adapter", "b=p=q"])
    assert adapters_of(args) == {"smollm2-135m": "models/adapters/x", "b": "p=q"}


@pytest.mark.parametrize("bad", ["models/adapters/x", "=path", "backend="])
def test_an_adapter_option_without_backend_and_path_is_one_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as stop:
        _parse(["--adapter", bad])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "expected BACKEND=PATH" in err and "Traceback" not in err


def test_summary_eval_records_the_sets_it_ran(tmp_path, capsys):
    out = tmp_path / "run"
    summary_eval.main(["--limit", "1", "--out", str(out)])
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["meta"]
    assert meta["sets"] == ["validation"] and meta["free_numbers"] is False
    assert "extractive" in capsys.readouterr().out


@pytest.mark.parametrize("limit", ["0", "-2", "two"])
def test_a_limit_below_one_is_one_usage_error(limit, capsys):
    with pytest.raises(SystemExit) as stop:
        summary_eval.main(["--limit", limit])
    assert stop.value.code == 2 and "expected a whole number >= 1" in capsys.readouterr().err
