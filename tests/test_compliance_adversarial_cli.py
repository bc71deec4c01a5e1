"""`python -m fincopilot.evals.compliance_adversarial`: usage errors are one line, before anything is scored."""

from __future__ import annotations

import pytest

from fincopilot.errors import InputError
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


def _scored(false_alarms: dict[float, float]) -> list:
    """(budget, score) pairs with the given false-alarm rate in both languages."""
    out = []
    for budget, fa in false_alarms.items():
        rate = compliance_adversarial.Interval(value=fa, low=fa, high=fa)
        lang = compliance_adversarial.LanguageScore(recall=rate, false_alarm_rate=rate, positives=1, clean=1)
        score = compliance_adversarial.SystemScore(
            system=f"@{budget}",
            languages={"en": lang, "zh": lang},
            category_f1={},
            misses=[],
            false_alarms=[],
        )
        out.append((budget, score))
    return out


def test_the_operating_point_must_catch_the_issues_promises():
    scored = _scored({0.01: 0.04, 0.02: 0.06, 0.05: 0.10})
    assert compliance_adversarial.chosen_budget(scored, catches=lambda b: True) == 0.01  # within the budget
    # 1% is within the false-alarm goal but misses a promise: the strictest budget that catches them
    assert compliance_adversarial.chosen_budget(scored, catches=lambda b: b >= 0.02) == 0.02
    within_at_two = _scored({0.01: 0.04, 0.02: 0.05})
    assert compliance_adversarial.chosen_budget(within_at_two, catches=lambda b: b >= 0.02) == 0.02
    # none catches them: the false-alarm rule alone, as before
    assert compliance_adversarial.chosen_budget(scored, catches=lambda b: False) == 0.01


def test_another_encoder_is_for_calibrate_only(capsys):
    with pytest.raises(SystemExit) as stop:
        compliance_adversarial.main(["--report", "--encoder", "e5-tuned"])
    assert stop.value.code == 2 and "with --calibrate only" in capsys.readouterr().err


def test_an_unknown_encoder_is_named():
    with pytest.raises(ValueError, match="unknown compliance encoder 'bert'"):
        compliance_adversarial.load_combined("bert")


def _row(id_: str, lang: str, categories: list[str], flags: list[str]) -> compliance_adversarial.FlagRow:
    return compliance_adversarial.FlagRow(split="dev", id=id_, lang=lang, categories=categories, flags=flags)


def test_paired_counts_items_gained_and_lost_with_an_exact_mcnemar_test():
    gr = ["guaranteed_return"]
    before = [_row(f"v{k}", "en", gr, []) for k in range(8)] + [
        _row("c0", "en", [], gr),
        _row("c1", "en", [], []),
    ]
    before += [_row("gone", "en", gr, [])]  # not in the after dump: not compared
    after = [_row(f"v{k}", "en", gr, gr if k < 7 else []) for k in range(8)]
    after += [_row("v-lost", "en", gr, [])]  # not in the before dump
    after += [_row("c0", "en", [], []), _row("c1", "en", [], ["pii"])]
    caught, flagged = compliance_adversarial.paired(before, after)
    assert (caught.items, caught.before, caught.after, caught.gained, caught.lost) == (8, 0, 7, 7, 0)
    assert caught.p_value == pytest.approx(2 / 2**7)  # 7 of 7 discordant one way: 2 * 0.5**7
    assert (flagged.items, flagged.before, flagged.after, flagged.gained, flagged.lost) == (2, 1, 1, 1, 1)
    assert flagged.p_value == 1.0
    table = compliance_adversarial.paired_table([caught, flagged])
    assert (
        "| en | violations caught | 8 | 0 = 0.00 [0.00, 0.32] | 7 = 0.88 [0.53, 0.98] | 7 | 0 | 0.0156 |"
        in table
    )


def test_a_dump_compared_with_itself_differs_nowhere(tmp_path, capsys):
    path = tmp_path / "rules.jsonl"
    compliance_adversarial.main(["--dump", str(path), "--split", "dev3", "--system", "rules"])
    assert "80 items of rules written" in capsys.readouterr().out
    compliance_adversarial.main(["--paired", str(path), str(path)])
    table = capsys.readouterr().out
    assert table.count("| 0 | 0 | 1 |") == 4  # en and zh, violating and clean: nothing gained or lost


def test_split_and_system_without_dump_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        compliance_adversarial.main(["--split", "test", "--report"])
    assert stop.value.code == 2 and "give --dump FILE" in capsys.readouterr().err


def test_a_malformed_dump_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"split": "dev", "id": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:1 is not a --dump row"):
        compliance_adversarial.load_dump(path)


def test_a_dump_into_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        compliance_adversarial.main(["--dump", str(tmp_path / "nope" / "flags.jsonl")])
    assert stop.value.code == 2 and "no such folder for the dump" in capsys.readouterr().err
