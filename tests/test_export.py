"""ONNX export: same numbers as torch, metadata complete, the onnxruntime-only example = correct()."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_stm
from test_preprocess import make_tiny_cube

from smlib.cli import main
from smlib.method.correct import correct
from smlib.method.preprocess import prepare
from smlib.method.runfolder import load_model
from smlib.method.train import WindowBatcher, train
from smlib.ops.distill import distill
from smlib.ops.export import export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
torch.set_num_threads(1)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "correct_station_onnx.py"
TINY = (
    "model.hidden_size=8",
    "model.dense=[8, 4]",
    "train.batch_size=64",
    "train.max_samples_per_epoch=512",
    "train.max_epochs=2",
    "train.num_threads=1",
    "train.device=cpu",
)


def _example():
    spec = importlib.util.spec_from_file_location("correct_station_onnx", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def cube():
    ds, _ = make_tiny_cube(n_ismn=4, n_days=30, rain_days=(12,))
    # the values as an ISMN file holds them (4 decimals), so files and cube agree exactly
    for v in ds.data_vars:
        ds[v] = ds[v].round(4).astype(np.float32)
    return ds


@pytest.fixture(scope="module")
def runs(cube, tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    insitu = train(cube, d / "insitu", overrides=(*TINY, "preprocess.feature_set=insitu"))
    paper14 = train(cube, d / "paper14", overrides=TINY)
    student = distill(
        paper14, d / "student", cube=cube, max_samples=2048,
        overrides=("train.max_epochs=2", "train.num_threads=1"),
    )  # fmt: skip
    tcn = distill(
        paper14, d / "tcn", cube=cube, arch="tcn_student", max_samples=2048,
        overrides=("train.max_epochs=1", "train.num_threads=1"),
    )  # fmt: skip
    return {"insitu": insitu, "paper14": paper14, "gru_student": student, "tcn_student": tcn}


def _real_windows(cube, lm, n: int = 300):
    prep = prepare(cube, lm.config.preprocess, training=False)
    b = WindowBatcher(lm.scaler.transform(prep.x), prep.sm_lf, None, prep.window_h, lm.device)
    ends = torch.from_numpy(np.flatnonzero(prep.valid_end)[:n])
    xb, lfb, _ = b.batch(ends)
    return xb, lfb


@pytest.mark.parametrize("which", ["paper14", "gru_student", "tcn_student"])
def test_onnx_equals_torch(cube, runs, which, tmp_path):
    lm = load_model(runs[which], device="cpu")
    path = export_onnx(lm, tmp_path / "m.onnx")
    xb, lfb = _real_windows(cube, lm)
    with torch.no_grad():
        ref = lm.model(xb, lfb).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 7, len(ref)):  # batch size is dynamic
        got = sess.run(None, {"x": xb[:n].numpy(), "lf": lfb[:n].numpy()})[0]
        np.testing.assert_allclose(got, ref[:n], rtol=0, atol=1e-5)


def test_metadata_and_int8(cube, runs, tmp_path):
    lm = load_model(runs["gru_student"], device="cpu")
    fp32 = export_onnx(runs["gru_student"], tmp_path / "m.onnx")
    int8 = export_onnx(runs["gru_student"], tmp_path / "m8.onnx", quantize="int8")
    meta = ort.InferenceSession(str(fp32)).get_modelmeta().custom_metadata_map
    assert json.loads(meta["features"]) == list(lm.scaler.features)
    np.testing.assert_allclose(json.loads(meta["x_min"]), lm.scaler.x_min)
    np.testing.assert_allclose(json.loads(meta["x_max"]), lm.scaler.x_max)
    assert float(meta["y_min"]) == lm.scaler.y_min and float(meta["y_max"]) == lm.scaler.y_max
    assert int(meta["window_h"]) == 18 and meta["lf_centering"] == "centred"
    assert json.loads(meta["preprocess"])["feature_set"] == "paper14"
    assert json.loads(meta["model"])["name"] == "gru_student"
    s8 = ort.InferenceSession(str(int8))
    assert s8.get_modelmeta().custom_metadata_map["quantization"] == "int8"
    xb, lfb = _real_windows(cube, lm)
    with torch.no_grad():
        ref = lm.model(xb, lfb).numpy()
    got = s8.run(None, {"x": xb.numpy(), "lf": lfb.numpy()})[0]
    assert np.abs(got - ref).max() < 0.02  # int8 weights: close, not equal
    import onnx

    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeLSTM"}, ops
    with pytest.raises(ValueError, match="quantize"):
        export_onnx(runs["gru_student"], tmp_path / "x.onnx", quantize="int4")


def test_example_corrects_station_from_its_files_like_correct(cube, runs, tmp_path):
    ex = _example()
    model = export_onnx(runs["insitu"], tmp_path / "insitu.onnx")
    i = 1
    st = cube.isel(station=[i])
    ref = correct(st, load_model(runs["insitu"], device="cpu"), ("lstm",), product="paper")
    times = st["time"].values
    net, name = str(st["station"].values[0]).split("/")
    files = []
    for var in ("sm", "ts"):
        v = st[var].values[0]
        ok = np.isfinite(v)
        files.append(
            write_stm(
                tmp_path / "ismn", net, name, var, 0.05, 0.05, "5TM", times[ok], v[ok],
                lon=float(st["lon"].values[0]),
            )
        )  # fmt: skip
    out = tmp_path / "corrected.csv"
    assert ex.main([str(model), "--stm", *map(str, files), "--out", str(out)]) == 0
    rows = [r.split(",") for r in out.read_text().splitlines()[1:]]
    got = np.array([float(r[4]) if r[4] else np.nan for r in rows])
    want = ref["sm_lstm"].values[0]
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, equal_nan=True)
    assert np.isfinite(got).sum() > 24 * 20


def test_example_paper14_from_csv_like_correct(cube, runs, tmp_path):
    ex = _example()
    model = export_onnx(runs["gru_student"], tmp_path / "student.onnx")
    i = 2
    st = cube.isel(station=[i])
    lm = load_model(runs["gru_student"], device="cpu")
    ref = correct(st, lm, ("lstm",), product="paper")["sm_lstm"].values[0]
    names = ["sm", "ts", *[v for v in st.data_vars if v.startswith(("era5_", "merra2_"))]]
    series = {n: (st["time"].values.astype("datetime64[h]"), st[n].values[0]) for n in names}
    axis, data = ex.on_hourly_axis(series)
    *_, got = ex.correct_station(model, data, axis, float(st["lon"].values[0]))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))


def test_example_imports_numpy_and_onnxruntime_only():
    tree = ast.parse(EXAMPLE.read_text())
    mods = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    third_party = mods - {"__future__", "argparse", "json", "sys", "pathlib"}
    assert third_party == {"numpy", "onnxruntime"}


def test_cli_export(runs, tmp_path):
    rc = main(
        ["export", str(runs["gru_student"]), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]
    )
    assert rc == 0 and (tmp_path / "m.onnx").stat().st_size > 1000


@pytest.mark.parametrize("lags", [0, 4])
def test_example_applies_stored_coefficients_like_the_default_product(cube, runs, tmp_path, lags):
    """The example, given the station table of ``smlib correct``, writes the series the book
    evaluates (values and flags) -- from the station's files alone, with or without a model;
    for the tendency terms and for the distributed-lag artefact (the recommended default)."""
    import dataclasses

    from smlib.method.correct import correct_file

    ex = _example()
    lm = load_model(runs["insitu"], device="cpu")
    cc = dataclasses.replace(lm.config.correct, artefact_lags_h=lags)
    lm = dataclasses.replace(lm, config=dataclasses.replace(lm.config, correct=cc))
    batch = correct_file(cube, lm, out=tmp_path / "c.nc", methods=("lstm",), product="flagged")
    terms = json.loads((tmp_path / "c.coefficients.json").read_text())["product"]
    assert ("artefact_terms" in terms) == (lags > 0)
    table = tmp_path / "c.coefficients.json"
    model = export_onnx(runs["insitu"], tmp_path / "insitu.onnx")
    for i in (0, 1):
        st = cube.isel(station=[i])
        times = st["time"].values
        net, name = str(st["station"].values[0]).split("/")
        files = []
        for var in ("sm", "ts"):
            v = st[var].values[0]
            ok = np.isfinite(v)
            files.append(write_stm(tmp_path / "ismn", net, name, var, 0.05, 0.05, "5TM",
                                   times[ok], v[ok], lon=float(st["lon"].values[0])))  # fmt: skip
        csv = tmp_path / f"rean{i}.csv"
        cols = ["era5_precip", "merra2_precip"]
        lines = ["time," + ",".join(cols)]
        for k, t in enumerate(times.astype("datetime64[h]")):
            lines.append(f"{t}," + ",".join(f"{float(st[c].values[0, k]):.4f}" for c in cols))
        csv.write_text("\n".join(lines) + "\n")
        out = tmp_path / f"product{i}.csv"
        args = ["--stm", *map(str, files), "--csv", str(csv), "--coefficients", str(table)]
        assert ex.main([str(model), *args, "--out", str(out)]) == 0
        rows = [r.split(",") for r in out.read_text().splitlines()]
        assert rows[0][-2:] == ["sm_product", "flag"]
        got = np.array([float(r[5]) if r[5] else np.nan for r in rows[1:]])
        flag = np.array([int(r[6]) for r in rows[1:]])
        want = batch["sm_lstm"].values[i]
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6, equal_nan=True)
        np.testing.assert_array_equal(flag, batch["sm_lstm_flag"].values[i])
        assert {0, 1} <= set(flag)
        # no model: the product alone; a station not in the table: raw, flag 3
        alone = tmp_path / f"alone{i}.csv"
        ex.main([*args, "--station", "NET/UNKNOWN", "--out", str(alone)])
        rows = [r.split(",") for r in alone.read_text().splitlines()[1:]]
        raw = st["sm"].values[0]
        assert [int(r[6]) for r in rows] == np.where(np.isfinite(raw), 3, 4).tolist()
