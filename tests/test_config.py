"""Run configuration: profiles, strict overrides, YAML round trip, listed differences."""

from __future__ import annotations

import pytest

from smlib.config import (
    PROFILES,
    config_to_dict,
    differences,
    dump_config,
    get_profile,
    load_config,
)


def test_paper_profile_holds_paper_hyperparameters():
    cfg = get_profile("paper")
    m, t, p = cfg.model, cfg.train, cfg.preprocess
    assert (m.hidden_size, m.num_layers, m.dropout, m.dense) == (256, 3, 0.1, (128, 64))
    assert (t.lr, t.batch_size, t.patience, t.val_fraction) == (6e-4, 32, 30, 0.3)
    assert (p.window_h, p.lf_window_h, p.r_threshold, p.rain_screen) == (18, 24, -0.34, "paper")
    assert p.feature_set == "paper14" and differences(cfg) == []


def test_quick_differences_are_listed_and_dumped(tmp_path):
    quick = get_profile("quick")
    diffs = {k: (a, b) for k, a, b in differences(quick)}
    assert diffs["model.hidden_size"] == (256, 64)
    assert diffs["train.batch_size"] == (32, 128)
    # the method itself is untouched: same features, filter, screens, window and architecture depth
    assert not any(k.startswith("preprocess.") for k in diffs)
    assert "model.num_layers" not in diffs and "model.dense" not in diffs
    text = dump_config(quick, tmp_path / "config.yaml")
    assert "differences_from_paper" in text and "hidden_size" in text
    assert load_config(tmp_path / "config.yaml") == quick


def test_overrides_are_typed_and_strict():
    cfg = get_profile(
        "quick", ["train.batch_size=64", "train.lr=1e-3", "preprocess.drop_features=[ts_lf]"]
    )
    assert cfg.train.batch_size == 64 and cfg.train.lr == 1e-3
    assert cfg.preprocess.drop_features == ("ts_lf",)
    assert get_profile("paper", ["train.lr=1"]).train.lr == 1.0  # int accepted for float
    assert (
        get_profile("paper", ["train.max_samples_per_epoch=null"]).train.max_samples_per_epoch
        is None
    )
    with pytest.raises(KeyError, match="unknown configuration key 'train.bogus'"):
        get_profile("quick", ["train.bogus=1"])
    with pytest.raises(KeyError, match="is a section"):
        get_profile("quick", ["train=1"])
    with pytest.raises(TypeError, match="train.batch_size"):
        get_profile("quick", ["train.batch_size=big"])
    with pytest.raises(ValueError, match="rain_screen"):
        get_profile("quick", ["preprocess.rain_screen=sometimes"])
    with pytest.raises(ValueError, match="section.key=value"):
        get_profile("quick", ["train.lr"])
    with pytest.raises(KeyError, match="unknown profile"):
        get_profile("huge")


def test_every_profile_round_trips(tmp_path):
    for name in PROFILES:
        cfg = get_profile(name)
        dump_config(cfg, tmp_path / f"{name}.yaml")
        back = load_config(tmp_path / f"{name}.yaml")
        assert config_to_dict(back) == config_to_dict(cfg)


def test_load_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  learning_rate: 0.1\n")
    with pytest.raises(KeyError, match="bad.yaml"):
        load_config(path)
