"""Write the twin in the providers' on-disk formats (and its ground truth).

* ISMN "Header+values": ``ismn/<NET>/<STATION>/<NET>_<NET>_<STATION>_<var>_<d0>_<d1>_<SENSOR>_<start>_<end>.stm``
  with the fixed-width header line and ``YYYY/MM/DD HH:MM value flag M`` records, missing hours
  omitted, line endings rotating over CRLF, LF, CR (with the SMOSMANIA trailing blanks) and the
  COSMOS mix (header ``\\n``, a lone ``\\r``, then CRLF records); rain-gauge files
  (``_p_0.000000_0.000000_Pulse-Count_``, mm per hour) at every second station; plus
  ``<NET>_<NET>_<STATION>_static_variables.csv`` (``;``-separated, HWSD-style rows).
* ERA5-Land as the new CDS delivers NetCDF: ``valid_time`` (seconds since 1970), descending
  ``latitude``, ``longitude``, scalar ``number``, ``expver``; ``swvl1`` (m**3 m**-3), ``stl1``
  (K), ``slhf`` (J m**-2, accumulated since 00 UTC, negative upward; the 00 UTC value holds the
  previous day's total) and ``tp`` (m, accumulated likewise). One file per box.
* MERRA-2 M2T1NXLND: ``time`` (minutes since the first hh:30), ``lat``, ``lon``; ``SFMC``
  (m-3 m-3), ``TSOIL1`` (K), ``LHLAND`` (W m-2), ``PRECTOTLAND`` (kg m-2 s-1) as hour means
  stamped hh:30. One file per box.
* FLUXNET2015 FULLSET HH: ``FLX_<SITE>_FLUXNET2015_FULLSET_HH_<y1>-<y2>_1-4.csv`` in local
  standard time over whole years, ``-9999`` missing, and a site list ``FLX_sites.csv``.
* ``truth.nc`` (CF-1.8) and ``twin.yml``, both naming the scenario and every one of its
  parameters (``truth.nc``: global attributes ``scenario``, ``scenario_description`` and
  ``scenario_<knob>``); ``truth.nc`` also holds ``sm_noise``, the SM reading's own noise
  (``sm + sm_noise``: the best a correction can reach, the noise ceiling).
* An in-situ-only world (``Scenario.reanalysis_given`` false) writes no ``era5land/`` and no
  ``merra2/`` (its ``truth.nc`` still describes the products it did not write).

Every file is written to a temporary name in its folder and renamed (atomic); nothing in the
files depends on the wall clock, so a seed always gives identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from smlib.atomic import atomic_path
from smlib.synth.reanalysis import ProductRun
from smlib.synth.world import Region

__all__ = [
    "ismn_header_line",
    "write_ismn",
    "write_era5_land",
    "write_merra2",
    "write_fluxnet",
    "write_truth",
    "write_twin_yml",
    "atomic_write",
]

_TS_CAPABLE = {"5TM", "Hydraprobe-II-Sdi-12", "TRIME-PICO", "Acclima-TDT", "CS655"}
_LINE_STYLES = ("crlf", "lf", "cr", "cosmos")


def atomic_write(path: Path, writer: Callable[[Path], None]) -> Path:
    """Call ``writer(tmp)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def ismn_header_line(
    network: str,
    station: str,
    lat: float,
    lon: float,
    elev: float,
    d0: float,
    d1: float,
    sensor: str,
) -> str:
    """Fixed-width header line of an ISMN Header+values file (no line ending)."""
    return (
        f"{network:<11}{network:<16}{station:<18}{lat:>8.5f}{lon:>12.5f}{elev:>8.2f}"
        f"{d0:>8.2f}{d1:>8.2f} {sensor}"
    )


def _join_lines(header: str, records: list[str], style: str) -> bytes:
    if style == "crlf":
        text = header + "\r\n" + "".join(r + "\r\n" for r in records)
    elif style == "lf":
        text = header + "\n" + "".join(r + "\n" for r in records)
    elif style == "cr":  # SMOSMANIA: trailing blank on every line, CR only
        text = header + " \r" + "".join(r + " \r" for r in records)
    elif style == "cosmos":  # COSMOS: header LF, a lone CR, then CRLF records
        text = header + "\n\r" + "".join(r + "\r\n" for r in records)
    else:
        raise ValueError(f"unknown line-ending style {style!r}")
    return text.encode("ascii")


def _static_csv(row: pd.Series, regions: tuple[Region, ...]) -> bytes:
    src = (
        'HWSD;Harmonized World Soil Database v1.1 (synthetic twin);IIASA;v1.1;30";;'
        "http://webarchive.iiasa.ac.at/Research/LUC/External-World-soil-database/HTML/;"
    )
    clay, sand = row["clay"], row["sand"]
    silt = max(0.0, 100.0 - clay - sand)
    lines = [
        "quantity_name;unit;depth_from[m];depth_to[m];value;description;quantity_source_name;"
        "quantity_source_description;quantity_source_provider;quantity_source_version;"
        "quantity_source_resolution;quantity_source_timerange;quantity_source_url;"
    ]
    for d0, d1, f in ((0.0, 0.3, 1.0), (0.3, 1.0, 0.97)):
        lines += [
            f"saturation;m^3*m^-3;{d0:.2f};{d1:.2f};{row['porosity'] * f:.2f};;{src}",
            f"clay fraction;% weight;{d0:.2f};{d1:.2f};{clay:.2f};;{src}",
            f"organic carbon;% weight;{d0:.2f};{d1:.2f};{1.2 * f:.2f};;{src}",
            f"sand fraction;% weight;{d0:.2f};{d1:.2f};{sand:.2f};;{src}",
            f"silt fraction;% weight;{d0:.2f};{d1:.2f};{silt:.2f};;{src}",
        ]
    reg = regions[int(row["region"])]
    lines.append(
        "land cover classification;;;;130;Grassland;CCI_landcover_2010;ESA CCI Land Cover;ESA;"
        "2010-v1.6.1;300m;2008-2012;http://www.esa-landcover-cci.org/;"
    )
    lines.append(
        f"climate classification;;;;{reg.koeppen};;koeppen_geiger_2007;"
        f"Koeppen-Geiger Climate Classification;;Peel2007;0.1\u00b0;;"
        "http://www.hydrol-earth-syst-sci.net/11/1633/2007/;"
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_ismn(twin, root: Path) -> list[Path]:
    """Write the ISMN Header+values tree of all ISMN stations under ``root``.

    Returns the written paths.
    """
    st = twin.world.stations
    ismn = st[st["kind"] == "ismn"]
    stamps = np.asarray(twin.time.strftime("%Y/%m/%d %H:%M"))
    days = np.asarray(twin.time.strftime("%Y%m%d"))

    def period(ok: np.ndarray) -> str:
        # ISMN names every file after the dates of its first and last record
        a, b = (ok[0], ok[-1]) if ok.size else (0, len(days) - 1)
        return f"{days[a]}_{days[b]}"

    written = []
    for s, (_, row) in enumerate(ismn.iterrows()):
        net, name = row["network"], row["name"]
        folder = Path(root) / net / name
        style = _LINE_STYLES[s % len(_LINE_STYLES)]
        sensor = row["sensor"]
        ts_sensor = sensor if sensor in _TS_CAPABLE else "107-Thermistor"
        sm = twin.sm_obs[s]
        flag = twin.sm_flag[s]
        ok = np.flatnonzero(np.isfinite(sm))
        recs = [f"{stamps[k]} {sm[k]:8.4f} {flag[k]} M" for k in ok]
        d0, d1 = float(row["depth_from"]), float(row["depth_to"])
        head = ismn_header_line(net, name, row["lat"], row["lon"], row["elevation"], d0, d1, sensor)
        fname = f"{net}_{net}_{name}_sm_{d0:.6f}_{d1:.6f}_{sensor}_{period(ok)}.stm"
        written.append(_write_bytes(folder / fname, _join_lines(head, recs, style)))
        ts = twin.ts_obs[s]
        ok = np.flatnonzero(np.isfinite(ts))
        recs = [f"{stamps[k]} {ts[k]:8.2f} G M" for k in ok]
        head = ismn_header_line(
            net, name, row["lat"], row["lon"], row["elevation"], 0.05, 0.05, ts_sensor
        )
        fname = f"{net}_{net}_{name}_ts_0.050000_0.050000_{ts_sensor}_{period(ok)}.stm"
        written.append(_write_bytes(folder / fname, _join_lines(head, recs, style)))
        p = twin.gauge[s]
        ok = np.flatnonzero(np.isfinite(p))
        if ok.size:
            recs = [f"{stamps[k]} {p[k]:8.2f} G M" for k in ok]
            head = ismn_header_line(
                net, name, row["lat"], row["lon"], row["elevation"], 0.0, 0.0, "Pulse-Count"
            )
            fname = f"{net}_{net}_{name}_p_0.000000_0.000000_Pulse-Count_{period(ok)}.stm"
            written.append(_write_bytes(folder / fname, _join_lines(head, recs, style)))
        csv = folder / f"{net}_{net}_{name}_static_variables.csv"
        written.append(_write_bytes(csv, _static_csv(row, twin.world.regions)))
    return written


def _box_array(run: ProductRun, box, values: np.ndarray) -> np.ndarray:
    """(n_cell, n_t) cell values -> (n_t, n_lat, n_lon) of one box (lat ascending)."""
    key = {(a, b): k for k, (a, b) in enumerate(zip(run.cell_i, run.cell_j, strict=True))}
    idx = np.array([[key[(a, b)] for b in box.j] for a in box.i])
    return np.moveaxis(values[idx], -1, 0)


def _accumulate_since_00utc(flux: np.ndarray, i0: int, n_time: int, hour0: int) -> np.ndarray:
    """ERA5 accumulation of hour-ending amounts ``flux`` (n, n_sim) at output stamps.

    The value at UTC hour ``h`` is the sum over the ``h`` hours since 00 UTC, and over the 24
    hours of the previous day at 00 UTC.
    """
    c = np.cumsum(np.pad(flux.astype(float), ((0, 0), (1, 0))), axis=1)  # c[:, m] = sum f[:m]
    k = np.arange(n_time)
    hours = (hour0 + k) % 24
    n_acc = np.where(hours == 0, 24, hours)
    end = i0 + k + 1
    return c[:, end] - c[:, end - n_acc]


_ERA5_ATTRS = {
    "swvl1": (39, "m**3 m**-3", "Volumetric soil water layer 1"),
    "stl1": (139, "K", "Soil temperature level 1"),
    "slhf": (147, "J m**-2", "Time-integrated surface latent heat net flux"),
    "tp": (228, "m", "Total precipitation"),
}


def write_era5_land(twin, root: Path) -> list[Path]:
    """Write one CDS-style ERA5-Land NetCDF per box of ``twin.era5``."""
    run = twin.era5
    n_time, i0 = len(twin.time), twin.i0
    hour0 = twin.time[0].hour
    sl = slice(i0, i0 + n_time)
    cells = {
        "swvl1": run.sm[:, sl],
        "stl1": run.ts[:, sl] + 273.15,
        "slhf": (0.0 - _accumulate_since_00utc(run.lh * 3600.0, i0, n_time, hour0) + 0.0).astype(
            np.float32
        ),
        "tp": _accumulate_since_00utc(run.precip * 1e-3, i0, n_time, hour0).astype(np.float32),
    }
    written = []
    for box in run.boxes:
        lat = run.spec.grid.lat(box.i)[::-1]
        lon = run.spec.grid.lon(box.j)
        data_vars = {}
        for name, vals in cells.items():
            arr = _box_array(run, box, vals)[:, ::-1, :].astype(np.float32)
            pid, units, long_name = _ERA5_ATTRS[name]
            data_vars[name] = (
                ("valid_time", "latitude", "longitude"),
                arr,
                {
                    "GRIB_paramId": np.int64(pid),
                    "GRIB_dataType": "fc" if name in ("slhf", "tp") else "an",
                    "GRIB_gridType": "regular_ll",
                    "GRIB_shortName": name,
                    "GRIB_units": units,
                    "GRIB_name": long_name,
                    "long_name": long_name,
                    "units": units,
                    "standard_name": "unknown",
                },
            )
        ds = xr.Dataset(
            data_vars,
            coords={
                "number": ((), np.int64(0), {"long_name": "ensemble member numerical id",
                                             "units": "1", "standard_name": "realization"}),
                "valid_time": ("valid_time", twin.time.to_numpy(),
                               {"long_name": "time", "standard_name": "time"}),
                "latitude": ("latitude", lat.astype(np.float64),
                             {"units": "degrees_north", "standard_name": "latitude",
                              "long_name": "latitude", "stored_direction": "decreasing"}),
                "longitude": ("longitude", lon.astype(np.float64),
                              {"units": "degrees_east", "standard_name": "longitude",
                               "long_name": "longitude"}),
                "expver": ("valid_time", np.full(n_time, "0001", dtype=object), {}),
            },
            attrs={
                "GRIB_centre": "ecmf",
                "GRIB_centreDescription": "European Centre for Medium-Range Weather Forecasts",
                "GRIB_subCentre": np.int64(0),
                "Conventions": "CF-1.7",
                "institution": "European Centre for Medium-Range Weather Forecasts",
                "history": "smlib synthetic twin: ERA5-Land-like product in the CDS NetCDF layout",
                "source": "smlib.synth (not real ERA5-Land data)",
            },
        )  # fmt: skip
        enc = {v: {"zlib": True, "complevel": 1, "_FillValue": np.float32(np.nan)} for v in cells}
        enc["valid_time"] = {"units": "seconds since 1970-01-01", "calendar": "proleptic_gregorian",
                             "dtype": "int64"}  # fmt: skip
        fname = (
            f"era5-land_reanalysis-era5-land_{twin.time[0]:%Y%m%d}-{twin.time[-1]:%Y%m%d}_"
            f"{box.name}.nc"
        )
        path = Path(root) / fname
        written.append(atomic_write(path, lambda p, ds=ds, enc=enc: _to_netcdf(ds, p, enc)))
    return written


def _to_netcdf(
    ds: xr.Dataset, path: Path, encoding: dict, time_units: tuple[str, str] | None = None
) -> None:
    """Write with netCDF4; ``time_units`` = (variable, units) restores a provider's exact
    spelling of a time unit (xarray writes ``YYYY-MM-DDTHH:MM:SS``, GES DISC a blank)."""
    ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)
    if time_units is not None:
        import netCDF4

        with netCDF4.Dataset(path, "a") as nc:
            nc[time_units[0]].setncattr("units", time_units[1])


_MERRA2_ATTRS = {
    "SFMC": ("m-3 m-3", "water_surface_layer"),
    "TSOIL1": ("K", "soil_temperatures_layer_1"),
    "LHLAND": ("W m-2", "Latent_heat_flux_land"),
    "PRECTOTLAND": ("kg m-2 s-1", "Total_precipitation_land"),
}


def write_merra2(twin, root: Path) -> list[Path]:
    """Write one M2T1NXLND-style NetCDF per box of ``twin.merra2`` (hour means at hh:30)."""
    run = twin.merra2
    n_time, i0 = len(twin.time), twin.i0
    a, b = slice(i0, i0 + n_time), slice(i0 + 1, i0 + n_time + 1)
    cells = {
        "SFMC": 0.5 * (run.sm[:, a] + run.sm[:, b]),
        "TSOIL1": 0.5 * (run.ts[:, a] + run.ts[:, b]) + 273.15,
        "LHLAND": run.lh[:, b],
        "PRECTOTLAND": run.precip[:, b] / 3600.0,
    }
    t = twin.time + pd.Timedelta(minutes=30)
    first = t[0]
    written = []
    for box in run.boxes:
        lat = run.spec.grid.lat(box.i)
        lon = run.spec.grid.lon(box.j)
        data_vars = {}
        for name, vals in cells.items():
            units, long_name = _MERRA2_ATTRS[name]
            data_vars[name] = (
                ("time", "lat", "lon"),
                _box_array(run, box, vals).astype(np.float32),
                {"long_name": long_name, "units": units, "standard_name": long_name,
                 "fmissing_value": np.float32(1e15), "vmax": np.float32(1e15),
                 "vmin": np.float32(-1e15)},
            )  # fmt: skip
        ds = xr.Dataset(
            data_vars,
            coords={
                "time": ("time", t.to_numpy(), {"long_name": "time",
                         "time_increment": np.int32(10000),
                         "begin_date": np.int32(int(f"{first:%Y%m%d}")),
                         "begin_time": np.int32(3000)}),
                "lat": ("lat", lat.astype(np.float64), {"long_name": "latitude",
                        "units": "degrees_north"}),
                "lon": ("lon", lon.astype(np.float64), {"long_name": "longitude",
                        "units": "degrees_east"}),
            },
            attrs={
                "Conventions": "CF-1",
                "Title": "MERRA2 tavg1_2d_lnd_Nx: 2d,1-Hourly,Time-Averaged,Single-Level,"
                "Assimilation,Land Surface Diagnostics",
                "ShortName": "M2T1NXLND",
                "VersionID": "5.12.4",
                "Source": "smlib.synth (not real MERRA-2 data)",
                "History": "smlib synthetic twin: MERRA-2-like product in the GES DISC layout",
            },
        )  # fmt: skip
        enc = {
            v: {"zlib": True, "complevel": 1, "_FillValue": np.float32(1e15),
                "missing_value": np.float32(1e15)}
            for v in cells
        }  # fmt: skip
        enc["time"] = {"units": f"minutes since {first:%Y-%m-%d %H:%M:%S}", "dtype": "int32",
                       "calendar": "standard"}  # fmt: skip
        fname = (
            f"MERRA2_400.tavg1_2d_lnd_Nx.{twin.time[0]:%Y%m%d}-{twin.time[-1]:%Y%m%d}"
            f".{box.name}.SUB.nc"
        )
        path = Path(root) / fname
        units = ("time", enc["time"]["units"])
        written.append(
            atomic_write(path, lambda p, ds=ds, enc=enc, u=units: _to_netcdf(ds, p, enc, u))
        )
    return written


def write_fluxnet(twin, root: Path) -> list[Path]:
    """Write FLUXNET2015 FULLSET HH CSVs (local standard time, whole years) and the site list."""
    tw = twin.towers
    st = twin.world.stations
    towers = st[st["kind"] == "tower"]
    hh_utc = pd.date_range(twin.time[0], periods=2 * len(twin.time), freq="30min")
    written = []
    columns = [
        ("TA_F", tw.ta, "{:.3f}"),
        ("SW_IN_F", tw.sw_in, "{:.2f}"),
        ("P_F", tw.p, "{:.4f}"),
        ("LE_F_MDS", tw.le, "{:.3f}"),
        ("LE_F_MDS_QC", tw.le_qc.astype(float), "{:.0f}"),
        ("TS_F_MDS_1", tw.ts, "{:.3f}"),
        ("SWC_F_MDS_1", tw.swc, "{:.3f}"),
    ]
    for k in range(len(tw.site)):
        local = hh_utc + pd.Timedelta(hours=int(tw.utc_offset[k]))
        y1, y2 = local[0].year, local[-1].year
        full = pd.date_range(f"{y1}-01-01", f"{y2 + 1}-01-01", freq="30min", inclusive="left")
        pos = ((local - full[0]) // pd.Timedelta(minutes=30)).to_numpy()
        t_start = np.asarray(full.strftime("%Y%m%d%H%M"))
        t_end = np.asarray((full + pd.Timedelta(minutes=30)).strftime("%Y%m%d%H%M"))
        cols = []
        for _, arr, fmt in columns:
            txt = np.full(len(full), "-9999", dtype=object)
            v = arr[k]
            ok = np.isfinite(v)
            txt[pos[ok]] = [fmt.format(x) for x in v[ok]]
            cols.append(txt)
        header = ",".join(["TIMESTAMP_START", "TIMESTAMP_END", *(c[0] for c in columns)])
        body = "\n".join(",".join(row) for row in zip(t_start, t_end, *cols, strict=True))
        fname = f"FLX_{tw.site[k]}_FLUXNET2015_FULLSET_HH_{y1}-{y2}_1-4.csv"
        written.append(_write_bytes(Path(root) / fname, (header + "\n" + body + "\n").encode()))
    sites = pd.DataFrame(
        {
            "SITE_ID": towers["name"].to_numpy(),
            "LOCATION_LAT": towers["lat"].to_numpy(),
            "LOCATION_LONG": towers["lon"].to_numpy(),
            "LOCATION_ELEV": towers["elevation"].to_numpy(),
            "UTC_OFFSET": towers["utc_offset"].to_numpy(),
        }
    )
    written.append(_write_bytes(Path(root) / "FLX_sites.csv", sites.to_csv(index=False).encode()))
    return written


def _truth_dataset(twin) -> xr.Dataset:
    st = twin.world.stations
    sp = twin.sensors
    f32 = np.float32
    ids = st.index.to_numpy().astype(str)
    region = st["region"].to_numpy()
    regions = twin.world.regions
    sc = twin.scenario

    def station_var(values, long_name, units=None, dtype=None):
        attrs = {"long_name": long_name}
        if units is not None:
            attrs["units"] = units
        arr = np.asarray(values)
        return ("station", arr.astype(dtype) if dtype else arr, attrs)

    data = {
        "sm": (("station", "time"), twin.truth_sm.astype(f32),
               {"units": "m3 m-3", "long_name": "true volumetric water content of the sensor layer",
                "standard_name": "volume_fraction_of_condensed_water_in_soil"}),
        "ts": (("station", "time"), twin.truth_ts.astype(f32),
               {"units": "degC", "long_name": "true soil temperature at the sensor depth",
                "standard_name": "soil_temperature"}),
        "lh": (("station", "time"), twin.truth_lh.astype(f32),
               {"units": "W m-2", "long_name": "true latent heat flux, positive upward, mean of "
                "the hour ending at the time stamp",
                "standard_name": "surface_upward_latent_heat_flux"}),
        "precip": (("station", "time"), twin.truth_precip.astype(f32),
                   {"units": "mm h-1", "long_name": "true rainfall in the hour ending at the "
                    "time stamp", "standard_name": "lwe_precipitation_rate"}),
        "irrigation": (("station", "time"), twin.truth_irrigation.astype(f32),
                       {"units": "mm h-1", "long_name": "irrigation water applied in the hour "
                        "ending at the time stamp (seen by no gauge and no reanalysis)"}),
    }  # fmt: skip
    if twin.sm_noise is not None:
        data["sm_noise"] = (
            ("station", "time"), twin.sm_noise.astype(f32),
            {"units": "m3 m-3", "long_name": "random noise and quantisation error of the SM "
             "reading: the reading minus its noise-free value (true SM + calibration offset + "
             "temperature artefact; cosmic-ray: footprint average + offset); sm + sm_noise is "
             "the noise ceiling of a correction"},
        )  # fmt: skip
    data.update(
        {
            "sensor_beta0": station_var(sp.beta0, "temperature coefficient of the probe at half saturation", "m3 m-3 K-1", f32),
            "sensor_k_dry": station_var(sp.k_dry, "dry-soil amplification of the temperature coefficient", "1", f32),
            "sensor_k_wet": station_var(sp.k_wet, "wet-soil amplification of the temperature coefficient", "1", f32),
            "sensor_lag_h": station_var(sp.lag_h, "thermal lag of the sensing element behind the soil temperature (first-order time constant)", "h", f32),
            "sensor_delay_h": station_var(np.zeros(len(st)) if sp.delay_h is None else sp.delay_h, "pure delay of the sensing element's temperature behind the soil temperature", "h", f32),
            "sensor_t_cal": station_var(sp.t_cal, "probe calibration temperature", "degC", f32),
            "sensor_offset": station_var(sp.offset, "calibration offset of the probe", "m3 m-3", f32),
            "sensor_noise_sd": station_var(sp.noise_sd, "standard deviation of the probe noise", "m3 m-3", f32),
            "sensor_resolution": station_var(sp.resolution, "probe resolution", "m3 m-3", f32),
            "ts_offset": station_var(sp.ts_offset, "offset of the soil temperature sensor", "K", f32),
            "weak_artefact": station_var(st["weak_artefact"].to_numpy(), "probe only weakly temperature sensitive (1) or not (0)", "1", np.int8),
            "paired_reference": station_var(st["paired_reference"].to_numpy().astype(str), "id of the reference station paired with this station (empty: none)"),
            "region": station_var(np.array([regions[r].name for r in region]), "climate region of the twin"),
            "porosity": station_var(st["porosity"].to_numpy(), "soil porosity", "m3 m-3", f32),
            "theta_fc": station_var(st["theta_fc"].to_numpy(), "field capacity", "m3 m-3", f32),
            "theta_wp": station_var(st["theta_wp"].to_numpy(), "wilting point", "m3 m-3", f32),
        }
    )  # fmt: skip
    for run in (twin.era5, twin.merra2):
        p = run.spec.name
        cell = run.station_cell
        data[f"{p}_cell_lat"] = station_var(
            run.spec.grid.lat(run.cell_i[cell]),
            f"{p} cell nearest to the station, latitude",
            "degrees_north",
        )
        data[f"{p}_cell_lon"] = station_var(
            run.spec.grid.lon(run.cell_j[cell]),
            f"{p} cell nearest to the station, longitude",
            "degrees_east",
        )
        for key, (ln, units) in {
            "sm_phase_h": ("delay of the SM diurnal cycle", "h"),
            "sm_amp": ("factor on the SM diurnal amplitude", "1"),
            "ts_phase_h": ("delay of the TS diurnal cycle", "h"),
            "ts_amp": ("factor on the TS diurnal amplitude", "1"),
            "sm_bias": ("additive SM bias", "m3 m-3"),
            "ts_bias": ("additive TS bias", "K"),
            "lh_factor": ("factor on LH", "1"),
        }.items():
            data[f"{p}_{key}"] = station_var(run.errors[key][run.cell_region[cell]], f"{p}: {ln}", units, f32)  # fmt: skip
    coords = {
        "station": ("station", ids),
        "time": ("time", twin.time.to_numpy(), {"standard_name": "time", "axis": "T"}),
        "lat": ("station", st["lat"].to_numpy(), {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("station", st["lon"].to_numpy(), {"units": "degrees_east", "standard_name": "longitude"}),
        "elevation": ("station", st["elevation"].to_numpy().astype(f32), {"units": "m", "long_name": "elevation above sea level"}),
        "network": ("station", st["network"].to_numpy().astype(str)),
        "sensor": ("station", st["sensor"].to_numpy().astype(str), {"long_name": "instrument name as written to the source files"}),
        "sensor_type": ("station", st["sensor_type"].to_numpy().astype(str), {"long_name": "measurement technique"}),
        "depth_from": ("station", st["depth_from"].to_numpy().astype(f32), {"units": "m"}),
        "depth_to": ("station", st["depth_to"].to_numpy().astype(f32), {"units": "m"}),
        "is_reference": ("station", st["is_reference"].to_numpy().astype(np.int8), {"long_name": "reference technique (cosmic-ray, TDR, TDT)"}),
        "kind": ("station", st["kind"].to_numpy().astype(str)),
    }  # fmt: skip
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "Conventions": "CF-1.8",
            "title": "Ground truth of the smlib synthetic twin",
            "source": "smlib.synth",
            "seed": int(twin.world.seed),
            "history": "written by smlib.synth.write_twin",
            "scenario": sc.name,
            "scenario_description": sc.description,
            **{f"scenario_{k}": _attr_value(v) for k, v in sc.parameters().items()},
        },
    )


def _attr_value(v):
    """A scenario parameter as a netCDF attribute (lists become float64 arrays)."""
    return np.asarray(v, dtype=np.float64) if isinstance(v, list) else v


def write_truth(twin, path: Path) -> Path:
    """Write ``truth.nc``: true SM, TS, LH, rain and every generator parameter per station."""
    ds = _truth_dataset(twin)
    enc = {v: {"zlib": True, "complevel": 1}
           for v in ("sm", "ts", "lh", "precip", "irrigation", "sm_noise") if v in ds}  # fmt: skip
    enc["time"] = {"units": f"hours since {twin.time[0]:%Y-%m-%d %H:%M:%S}", "dtype": "int32"}
    return atomic_write(Path(path), lambda p: _to_netcdf(ds, p, enc))


def write_twin_yml(twin, path: Path, sizes: dict) -> Path:
    """Write ``twin.yml``: scenario, seed, size, period, regions and their reanalysis errors."""
    st = twin.world.stations
    sc = twin.scenario
    doc = {
        "generator": "smlib.synth",
        "scenario": {"name": sc.name, "description": sc.description,
                     "parameters": sc.parameters()},
        "seed": int(twin.world.seed),
        "start": f"{twin.time[0]:%Y-%m-%d}",
        "n_days": int(twin.world.n_days),
        "n_ismn_stations": int((st["kind"] == "ismn").sum()),
        "n_towers": int((st["kind"] == "tower").sum()),
        "n_references": int(st["is_reference"].sum()),
        "stations_by_sensor_type": {
            k: int(v) for k, v in st[st["kind"] == "ismn"]["sensor_type"].value_counts().sort_index().items()
        },
        "files": sizes,
        "regions": [
            {
                "name": r.name,
                "network": r.network,
                "centre": [r.lat, r.lon],
                "utc_offset": r.utc_offset,
                "koeppen": r.koeppen,
                "soil": {"porosity": r.porosity, "theta_fc": r.theta_fc, "theta_wp": r.theta_wp,
                         "clay": r.clay, "sand": r.sand},
                "storm_probability": [round(r.rain_prob, 4), round(r.rain_amp, 4)],
                "storm_depth_mm": round(r.rain_depth, 3),
                "dominant_dielectric": list(r.dielectric),
                **{
                    f"{run.spec.name}_{k}": round(float(run.errors[k][i]), 4)
                    for run in (twin.era5, twin.merra2)
                    for k in ("sm_phase_h", "sm_amp", "ts_phase_h", "ts_amp", "sm_bias")
                },
            }
            for i, r in enumerate(twin.world.regions)
        ],
    }  # fmt: skip
    text = yaml.safe_dump(doc, sort_keys=False)
    return _write_bytes(Path(path), text.encode())
