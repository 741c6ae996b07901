"""The skill benchmark's bookkeeping (no training): world selection, ceiling shares, verdicts."""

from __future__ import annotations

from benchmarks import bench_skill


def test_unknown_worlds_are_a_one_line_error(capsys):
    assert bench_skill._main(["--worlds", "default,tundra", "--out", "x.json"]) == 2
    err = capsys.readouterr().err
    assert "unknown worlds ['tundra']" in err and "default_insitu" in err


def test_summary_states_the_share_of_the_noise_ceiling():
    scen = {
        "a": {"raw": {"hf_r": -0.5, "hf_r_share_of_ceiling": -0.52},
              "recommended": {"hf_r": 0.93, "hf_r_share_of_ceiling": 0.969},
              "ceiling": {"hf_r": 0.96}},
        "b": {"raw": {"hf_r": -0.4, "hf_r_share_of_ceiling": -0.45},
              "recommended": {"hf_r": 0.70, "hf_r_share_of_ceiling": 0.787},
              "ceiling": {"hf_r": 0.89}},
    }  # fmt: skip
    s = bench_skill.summarise(scen)
    assert s["targets"]["a"]["hf_r>=0.95_ceiling"] is True
    assert s["targets"]["b"]["hf_r>=0.95_ceiling"] is False
    assert s["recommended"]["hf_r_share_of_ceiling"] == {"median": 0.878, "worst": 0.787}
    assert s["ceiling"]["hf_r"]["worst"] == 0.89


def test_insitu_worlds_train_on_insitu_features():
    import xarray as xr

    assert bench_skill._insitu_overrides(xr.Dataset()) == ["preprocess.feature_set=insitu"]
    assert bench_skill._insitu_overrides(xr.Dataset({"era5_sm": 1.0})) == []
