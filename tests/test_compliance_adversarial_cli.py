"""`python -m fincopilot.evals.compliance_adversarial`: usage errors are one line, before anything is scored."""

from __future__ import annotations

import pytest

from fincopilot.evals import compliance_adversarial


@pytest.mark.parametrize("mode", ["--report", "--calibrate"])
def test_a_split_file_with_report_or_calibrate_is_a_usage_error(mode, tmp_path, capsys):
    split = tmp_path / "split.jsonl"
    split.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        compliance_adversarial.main([str(split), mode])
    assert stop.value.code == 2 and "scored alone" in capsys.readouterr().err


def test_a_missing_split_file_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        compliance_adversarial.main([str(tmp_path / "nope.jsonl")])
    assert stop.value.code == 2 and "no such split file" in capsys.readouterr().err
