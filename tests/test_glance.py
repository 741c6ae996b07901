"""smlib.report.glance: the introduction's results at a glance follow the numbers they are given."""

from __future__ import annotations

import re

from smlib.report.glance import glance_markdown, method_label

#: The default product's plain label (the guided fit, not "LSTM").
G = method_label("lstm")

PAGES = {
    "evaluation": "sections/04_evaluation",
    "spurious": "sections/02_spurious_signal",
    "coupling": "sections/06_land_coupling",
}


def _summary(**overrides) -> dict:
    summary = {
        "methods": ["raw", "fft", "lstm"],
        "n_stations": 12,
        "n_reference_pairs": 3,
        "n_towers": 2,
        "period": ["2019-01-01T00:00:00", "2019-12-31T23:00:00"],
        "median_hf_r_vs_truth": {"raw": -0.6, "fft": 0.4, "lstm": 0.8},
        "median_abs_phase_error_h": {"raw": 11.0, "fft": 2.0, "lstm": 3.0},
        "median_hf_r_vs_reference": {"raw": -0.5, "fft": 0.3, "lstm": 0.6},
        "median_r_sm_lh": {"raw": 0.5, "fft": -0.7, "lstm": -0.35, "truth": -0.4},
        "median_r_sm_ts": {
            "raw": {"impedance": 0.5, "tdr": -0.6},
            "fft": {"impedance": -0.2, "tdr": -0.5},
            "lstm": {"impedance": -0.3, "tdr": -0.4},
        },
    }
    summary.update(overrides)
    return summary


def _row(text: str, start: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(start))
    return [c.strip() for c in line.strip("|").split("|")]


def test_table_has_one_column_per_method_and_bolds_the_best() -> None:
    text = glance_markdown(_summary(), PAGES)
    assert _row(text, "| metric")[1:] == ["raw", "Fourier", "guided fit (LSTM + reanalysis)"]
    truth_row = _row(text, "| {doc}`HF R against the truth")
    assert truth_row[1:] == ["−0.60", "0.40", "**0.80**"]
    assert _row(text, "| {doc}`absolute phase error")[1:] == ["11.0", "**2.0**", "3.0"]
    # coupling: closest to the true SM's value wins, and that value is given
    coupling = _row(text, "| {doc}`R(SM, LH)")
    assert "(true SM: −0.40)" in coupling[0] and coupling[3] == "**−0.35**"
    assert "</sections/06_land_coupling>" in coupling[0]


def test_sentences_follow_the_numbers() -> None:
    text = glance_markdown(_summary(), PAGES)
    assert f"{G} follows the diurnal cycle best (0.80; raw −0.60, Fourier 0.40)" in text
    assert "Fourier places the diurnal minimum closest" in text
    assert f"Best of the 4 ranked metrics: {G} on 3 and Fourier on 1." in text
    assert f"Better than the raw sensor, of 4: Fourier on 4 and {G} on 4." in text
    assert f"raw 1 of 2; Fourier 2 of 2; {G} 2 of 2" in text
    # the other way round, the text turns round with the numbers
    flipped = _summary(median_hf_r_vs_truth={"raw": -0.6, "fft": 0.9, "lstm": 0.1})
    assert "Fourier follows the diurnal cycle best (0.90" in glance_markdown(flipped, PAGES)


def test_methods_come_from_the_summary_not_a_fixed_list() -> None:
    summary = _summary(
        methods=["raw", "lstm", "lin"],
        median_hf_r_vs_truth={"raw": 0.1, "lstm": 0.5, "lin": 0.7},
    )
    text = glance_markdown(summary, PAGES)
    assert _row(text, "| metric")[1:] == ["raw", G, method_label("lin")]
    assert _row(text, "| {doc}`HF R against the truth")[1:] == ["0.10", "0.50", "**0.70**"]
    # fft is not a method of this summary, so its numbers are not shown
    assert "Fourier" not in text


def test_missing_parts_are_left_out_and_untied_metrics_not_ranked() -> None:
    summary = _summary(median_r_sm_lh={"raw": 0.5, "fft": -0.7, "lstm": -0.3})  # no truth
    for key in ("median_hf_r_vs_truth", "median_abs_phase_error_h", "median_r_sm_ts"):
        summary.pop(key)
    text = glance_markdown(summary, {})
    assert "against the truth" not in text and "sensor type" not in text
    assert f"- R(SM, LH) at flux towers: raw 0.50, Fourier −0.70, {G} −0.30." in text
    assert f"Best of the 1 ranked metrics: {G} on 1" in text
    assert "{doc}" not in text  # no pages given: no links
    assert re.search(
        r"Evaluated over 12 stations, 3 station-reference pairs and 2 flux towers", text
    )


def test_no_summary_says_so() -> None:
    assert "no evaluation summary" in glance_markdown(None)
    assert "lists no correction method" in glance_markdown({"methods": []})


def test_coverage_of_each_method_is_shown_unranked() -> None:
    coverage = {"fft": {"stations": 0.175}, "lstm": {"stations": 1.0}}
    text = glance_markdown(_summary(coverage=coverage), PAGES)
    assert _row(text, "| share of the stations' hours corrected")[1:] == ["—", "18 %", "100 %"]
    assert "Best of the 4 ranked metrics" in text  # the coverage row is not ranked
