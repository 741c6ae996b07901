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


def test_the_network_part_scores_the_product_without_the_network():
    from test_signal_ablation import corrected_of, world

    from smlib.config import CorrectConfig

    cube, truth, _ = world()
    part = bench_skill._network_part(cube.drop_vars("net"), corrected_of(cube), truth,
                                     CorrectConfig())  # fmt: skip
    sa = part["_signal_ablation"]
    assert sa["network"] == "helps" and sa["network_gain_hf_r"] > 0.01
    assert part["recommended_without_network"]["hf_r"] == sa["table"]["without_network"]["hf_r"]
    paired = sa["paired"]  # the same gain station by station
    assert paired["stations"] == sa["table"]["all"]["stations_scored"]
    assert paired["mean"] > 0.01 and paired["stations_up"] > paired["stations_down"]
    bad = bench_skill._network_part(
        cube, corrected_of(cube), truth, CorrectConfig(smoothing_days=3)
    )
    assert "differs from sm_lstm" in bad["_signal_ablation_error"]


def test_summary_says_in_which_worlds_the_network_never_hurts():
    def world(gain):
        return {"recommended": {"hf_r": 0.9},
                "_signal_ablation": {"network_gain_hf_r": gain, "network": "x"}}  # fmt: skip

    s = bench_skill.summarise({"a": world(0.02), "b": world(-0.03), "c": {"recommended": {}}})
    assert s["targets"]["a"]["product>=without_network"] is True
    assert s["targets"]["b"]["product>=without_network"] is False
    assert s["targets"]["c"]["product>=without_network"] is None
    assert s["signal_ablation"]["b"]["network_gain_hf_r"] == -0.03
    assert s["network_never_hurts"] is False
    assert bench_skill.summarise({"a": world(0.0)})["network_never_hurts"] is True


def test_summary_states_the_share_of_tower_hours_with_a_network_value():
    def world(share):
        return {"recommended": {"hf_r": 0.9},
                "recommended_net": {"coverage_towers_method_itself": share}}  # fmt: skip

    s = bench_skill.summarise({"a": world(0.95), "b": world(0.886), "c": world(None)})
    key = "network_tower_hours>=0.90"
    assert [s["targets"][w][key] for w in "abc"] == [True, False, None]


def test_a_keep_folder_that_holds_a_world_of_the_run_is_refused(tmp_path, capsys):
    """A killed run's workers may still write into its keep folder: a new run refuses it
    before training anything, naming the world's folder."""
    (tmp_path / "default").mkdir()
    out = tmp_path / "b.json"
    code = bench_skill._main(["--worlds", "default", "--keep", str(tmp_path), "--out", str(out)])
    assert code == 2 and not out.exists()
    assert str(tmp_path / "default") in capsys.readouterr().err
