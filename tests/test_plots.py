"""Every figure function on tiny data: axes, labels, boxes and lines; no network."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from smlib.evaluation import diagnostics as dg
from smlib.report import plots

METHODS = ("raw", "fft", "lstm")


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Any cartopy download attempt fails the test."""
    from cartopy.io import Downloader

    def _refuse(self, url):
        raise AssertionError(f"cartopy tried to download {url}")

    monkeypatch.setattr(Downloader, "_urlopen", _refuse)


def _cycle(n: int, peak: float) -> np.ndarray:
    return np.cos(2 * np.pi * (np.arange(n) - peak) / 24)


@pytest.fixture
def corrected() -> xr.Dataset:
    n = 24 * 10
    time = pd.date_range("2021-07-01", periods=n, freq="h")
    rng = np.random.default_rng(0)
    truth = 0.25 + 0.01 * _cycle(n, 6)
    raw = 0.25 + 0.01 * _cycle(n, 15) + 0.001 * rng.normal(size=n)
    ts = 20 + 5 * _cycle(n, 15)
    return xr.Dataset(
        {
            "sm": (("station", "time"), np.stack([truth, raw, raw + 0.02])),
            "sm_fft": (("station", "time"), np.stack([truth, 0.25 + 0.01 * _cycle(n, 9), raw])),
            "sm_lstm": (("station", "time"), np.stack([truth, truth + 0.001, truth])),
            "ts": (("station", "time"), np.stack([ts, ts, ts])),
            "lh": (("station", "time"), np.stack([np.full(n, np.nan)] * 2 + [100 * _cycle(n, 13)])),
        },
        coords={
            "station": ["NET/REF", "NET/DIEL", "FLUXNET/T1"],
            "time": time,
            "lat": ("station", [40.0, 40.1, 41.0]),
            "lon": ("station", [-100.0, -100.0, -99.0]),
            "sensor_type": ("station", ["cosmic-ray", "impedance", "fdr"]),
            "is_reference": ("station", [True, False, False]),
            "kind": ("station", ["ismn", "ismn", "tower"]),
        },
    )


def _n_boxes(ax) -> int:
    # boxplot(patch_artist=True) draws each box as a PathPatch
    return sum(type(p).__name__ == "PathPatch" for p in ax.patches)


def test_heatmap_sorts_wet_to_dry_and_has_four_axes():
    rng = np.random.default_rng(1)
    r = xr.DataArray(
        rng.uniform(-1, 1, size=(3, 73)),
        dims=("station", "doy_window"),
        coords={"station": ["dry", "wet", "mid"], "doy_window": 1 + 5 * np.arange(73)},
    )
    r[0, :10] = np.nan
    fig = plots.plot_r_sm_ts_heatmap(r, np.array([0.05, 0.4, 0.2]), title="ISMN")
    assert isinstance(fig, Figure)
    ax, ax_hist, ax_rcb, ax_smcb = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["wet", "mid", "dry"]
    assert "Day of year" in ax.get_xlabel()
    assert "R(SM, TS)" in ax_rcb.get_xlabel()
    assert "m$^3$" in ax_smcb.get_ylabel()
    assert len(ax_hist.patches) == 20
    assert sum(p.get_height() for p in ax_hist.patches) == np.isfinite(r.values).sum()
    assert any("median R" in t.get_text() for t in ax_hist.texts)


def test_r_by_sensor_type_boxes_medians_counts():
    table = pd.DataFrame(
        {
            "sensor_type": ["impedance"] * 3 + ["fdr"] * 2 + ["tdr"],
            "raw": [0.5, 0.6, 0.7, 0.1, 0.3, -0.6],
            "fft": [-0.7, -0.6, -0.8, -0.2, np.nan, -0.6],
            "lstm": [-0.6, -0.5, -0.7, -0.5, -0.6, -0.7],
        }
    )
    fig = plots.plot_r_by_sensor_type(table)
    assert len(fig.axes) == 3
    assert [_n_boxes(ax) for ax in fig.axes] == [3, 3, 3]
    assert fig.axes[0].get_ylabel() == "R(SM, TS)"
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"0.60", "0.20", "-0.60"} <= texts  # medians printed
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["Impedance (3)", "FDR (1)", "TDR (1)"]  # counts of finite values
    assert [lab.get_text() for lab in fig.axes[0].get_xticklabels()] == ["Impedance", "FDR", "TDR"]


def test_station_pair_lines_and_r_in_legend(corrected):
    fig = plots.plot_station_pair(corrected, "NET/DIEL", "NET/REF", days=5)
    ax, ax_ref = fig.axes
    assert len(ax.get_lines()) == 3 and len(ax_ref.get_lines()) == 1
    assert len(ax.get_lines()[0].get_xdata()) == 120
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[2].startswith("guided fit (LSTM + reanalysis) (R = 1.00")
    assert "Reference" in labels[3]
    assert "m$^3$" in ax.get_ylabel() and ax.get_xlabel() == "Time (UTC)"
    with pytest.raises(ValueError, match="not on the time axis"):
        plots.plot_station_pair(corrected, "NET/DIEL", "NET/REF", start="1990-01-01")


def test_composite_cycles_one_line_per_series(corrected):
    comps = {"reference": dg.diurnal_composite(corrected["sm"].isel(station=[0]))}
    for m, v in dg.METHOD_VARIABLES.items():
        if v in corrected:  # the fixture holds raw, Fourier and the default product
            comps[m] = dg.diurnal_composite(corrected[v].isel(station=[1]))
    fig = plots.plot_composite_cycles(comps)
    (ax,) = fig.axes
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 24]
    assert len(lines) == 4
    assert ax.get_xlabel() == "Local solar time (h)"
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "Reference"
    # reference (truth) minimum in the late afternoon at lon -100 (UTC-7): 18 UTC -> 11 LST
    ref = lines[0].get_ydata()
    assert int(np.argmin(ref)) == (18 - 7) % 24


def test_hf_r_distribution_boxes_and_counts():
    table = pd.DataFrame({"raw": [0.1, 0.2, np.nan], "fft": [0.6, 0.7, 0.5], "lstm": [0.9] * 3})
    fig = plots.plot_hf_r_distribution(table)
    (ax,) = fig.axes
    assert _n_boxes(ax) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "ISMN (n = 2)"
    assert {"0.15", "0.60", "0.90"} <= {t.get_text() for t in ax.texts}


def test_lag_sensitivity_heatmap():
    s = xr.DataArray(
        np.random.default_rng(2).uniform(size=(14, 18)),
        dims=("feature", "lag"),
        coords={"feature": [f"x{i}" for i in range(14)], "lag": np.arange(18)},
        attrs={"units": "1", "n_windows": 99},
    )
    fig = plots.plot_lag_sensitivity(s)
    ax, cbar = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["x0", "x1"]
    assert len(ax.get_xticks()) == 18
    assert "Lag" in ax.get_xlabel() and "N = 99" in ax.get_title()
    assert "S_{i" in cbar.get_ylabel()


def test_coupling_violins(corrected):
    coupling = dg.land_coupling(corrected, warm_season=False)
    fig = plots.plot_coupling_violins(coupling)
    assert len(fig.axes) == 3
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "Fluxtower",
        "Fluxtower$_\\mathrm{FFT}$",
        "Fluxtower, guided fit (LSTM + reanalysis)",
    ]
    assert "W m$^{-2}$" in fig.axes[2].get_xlabel()
    # one tower: single values drawn as points with a printed median each
    assert len(fig.axes[0].texts) == 3 + 1  # medians + panel label


def test_coupling_violins_draws_violin_bodies():
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {
            v: (("station", "product"), rng.normal(size=(8, 3)))
            for v in ("r_sm_lh", "sigma_lh", "tci")
        },
        coords={"station": [f"T{i}" for i in range(8)], "product": list(METHODS)},
    )
    fig = plots.plot_coupling_violins(ds)
    bodies = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bodies) == 3


def test_station_map_offline(corrected):
    import cartopy.mpl.geoaxes

    fig = plots.plot_station_map(corrected)
    (ax,) = [a for a in fig.axes if isinstance(a, cartopy.mpl.geoaxes.GeoAxes)]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Cosmic-ray (1)" in labels and "Reference (1)" in labels and "Flux tower (1)" in labels
    fig.canvas.draw()  # rendering (features included) must not download anything


def test_skill_vs_truth_figure():
    rows = []
    for m in METHODS:
        for s, st in enumerate(["impedance", "impedance", "tdr"]):
            rows.append(
                {
                    "station": f"S{s}",
                    "sensor_type": st,
                    "method": m,
                    "hf_r": 0.1 * s,
                    "composite_rmse": 0.001,
                    "phase_error_h": 3.0,
                }
            )
    fig = plots.plot_skill_vs_truth(pd.DataFrame(rows))
    assert len(fig.axes) == 3
    assert [_n_boxes(ax) for ax in fig.axes] == [6, 6, 6]  # 2 sensor types x 3 methods
    assert "(h)" in fig.axes[2].get_ylabel()
    assert "median R = 0.10" in fig.legends[0].get_texts()[0].get_text()


def test_save_figure_writes_png_and_svg(tmp_path):
    table = pd.DataFrame({"raw": [0.1, 0.2], "lstm": [0.8, 0.9]})
    paths = plots.save_figure(plots.plot_hf_r_distribution(table), tmp_path / "sub" / "fig6b")
    assert [p.name for p in paths] == ["fig6b.png", "fig6b.svg"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert sorted(x.name for x in (tmp_path / "sub").iterdir()) == ["fig6b.png", "fig6b.svg"]


def test_map_extent_is_never_a_thin_strip():
    from smlib.report.plots.station_map import _map_extent

    lon = np.array([-100.0, 0.0, 115.0])
    lat = np.array([35.0, 40.0, 50.0])
    x0, x1, y0, y1 = _map_extent(lon, lat)
    assert (x0, x1) == (-103.0, 118.0)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(2.2)
    assert -90.0 <= y0 < 32.0 and 53.0 < y1 <= 90.0
    # near a pole the widened box is shifted, not cut
    x0, x1, y0, y1 = _map_extent(np.array([-170.0, 170.0]), np.array([80.0, 85.0]))
    assert y1 == 90.0 and y0 >= -90.0
