"""ISMN reader: real samples in three layouts, line endings, flags, bad input; sensor table."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pandas as pd
import pytest

from smlib.io.ismn import parse_stm, read_ismn, read_stm
from smlib.io.sensors import sensor_base_name, sensor_technique

ISMN_TESTS = "ismn_TUW-GEO_ismn_tests"
SMOSMANIA = "SMOSMANIA/SMOSMANIA_SMOSMANIA_Narbonne_sm_0.050000_0.050000_ThetaProbe-ML2X_20070101_20070131.stm"
COSMOS = "Data_seperate_files_header_20170810_20180809/COSMOS"


# ------------------------------------------------------------------------------ real samples
@pytest.mark.realdata
def test_smosmania_header_values_equals_ceop(realdata):
    hv = read_stm(realdata / ISMN_TESTS / "format_header_values" / SMOSMANIA, good_only=False)
    ce = read_stm(realdata / ISMN_TESTS / "format_ceop_sep" / SMOSMANIA, good_only=False)
    assert len(hv) == len(ce) == 1
    a, b = hv[0], ce[0]
    assert a.n_raw == b.n_raw == 741
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.removed_flags == b.removed_flags == {"U": 736, "D05": 5}
    for attr in (
        "network",
        "station",
        "sensor",
        "lat",
        "lon",
        "elevation",
        "depth_from",
        "depth_to",
    ):
        assert getattr(a, attr) == getattr(b, attr)
    assert (a.station_id, a.sensor, a.depth_to) == ("SMOSMANIA/Narbonne", "ThetaProbe-ML2X", 0.05)
    assert a.time[0] == np.datetime64("2007-01-01T01:00")
    assert a.values.min() == pytest.approx(0.1501) and a.values.max() == pytest.approx(
        0.215, abs=5e-4
    )
    # no value is flagged G, so the QC reading keeps nothing
    assert read_stm(realdata / ISMN_TESTS / "format_header_values" / SMOSMANIA)[0].values.size == 0


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("station", "n_raw", "n_good", "depth_to"),
    [("ARM-1", 6865, 6514, 0.19), ("Barrow-ARM", 7059, 4963, 0.21)],
)
def test_cosmos_mixed_line_endings_good_counts(realdata, station, n_raw, n_good, depth_to):
    folder = realdata / ISMN_TESTS / COSMOS / station
    (series,) = read_ismn(folder)
    assert series.station_id == f"COSMOS/{station}"
    assert series.n_raw == n_raw
    assert series.values.size == n_good
    assert series.depth_to == depth_to and series.sensor == "Cosmic-ray-Probe"
    assert sum(series.removed_flags.values()) == n_raw - n_good
    assert np.all(np.diff(series.time) > np.timedelta64(0))


@pytest.mark.realdata
def test_cosmos_agrees_with_ismn_package(realdata):
    """The TUW-GEO ``ismn`` package, read independently, keeps the same G values."""
    filehandlers = pytest.importorskip("ismn.filehandlers")
    root = realdata / ISMN_TESTS / "Data_seperate_files_header_20170810_20180809"
    rel = "COSMOS/ARM-1/COSMOS_COSMOS_ARM-1_sm_0.000000_0.190000_Cosmic-ray-Probe_20170810_20180809.stm"
    ref = filehandlers.DataFile(root, rel).read_data()
    good = ref[ref["soil_moisture_flag"] == "G"]
    (ours,) = read_stm(root / rel)
    np.testing.assert_array_equal(ours.time, good.index.to_numpy(dtype="datetime64[ns]"))
    np.testing.assert_allclose(ours.values, good["soil_moisture"].to_numpy())


@pytest.mark.realdata
def test_ceop_combined_file(realdata):
    path = next((realdata / "ismn_TUW-GEO_pytesmo-test-data" / "ismn").rglob("*.stm"))
    series = read_stm(path, good_only=False)
    found = {(s.variable, s.depth_to): s.n_raw for s in series}
    assert found == {
        ("ts", 0.05): 42,
        ("sm", 0.05): 42,
        ("ts", 0.1): 43,
        ("sm", 0.1): 43,
        ("sm", 0.2): 42,
        ("sm", 0.3): 42,
    }
    ts10 = next(s for s in series if (s.variable, s.depth_to) == ("ts", 0.1))
    assert ts10.values[0] == pytest.approx(12.20) and ts10.time[0] == np.datetime64(
        "2010-10-21T01:00"
    )
    assert all(s.station_id == "SMOSMANIA/Narbonne" and s.lat == 43.15 for s in series)


# ------------------------------------------------------------------------------ synthetic
def _hours(n, start="2020-06-01"):
    return pd.date_range(start, periods=n, freq="h")


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_line_endings_give_identical_series(tmp_path, stm_writer, newline):
    t = _hours(5)
    p = stm_writer(tmp_path / newline.encode().hex(), "NET", "ST", "sm", 0.0, 0.05, "EC5", t,
                   [0.1, 0.2, 0.3, 0.4, 0.5], ["G", "G", "D03", "G", "C01,D05"], newline=newline)  # fmt: skip
    (s,) = read_stm(p)
    np.testing.assert_array_equal(s.values, [0.1, 0.2, 0.4])
    np.testing.assert_array_equal(s.time, t[[0, 1, 3]].to_numpy())
    assert s.removed_flags == {"D03": 1, "C01,D05": 1}


def test_unknown_flag_is_counted_and_logged(tmp_path, stm_writer, caplog):
    p = stm_writer(
        tmp_path, "NET", "ST", "ts", 0.05, 0.05, "X", _hours(3), [1, 2, 3], ["G", "Q7", "G"]
    )
    with caplog.at_level(logging.WARNING, logger="smlib.io.ismn"):
        (s,) = read_stm(p)
    assert s.values.size == 2 and s.removed_flags == {"unknown:Q7": 1}
    assert "Q7" in caplog.text and ":3:" in caplog.text  # header is line 1, Q7 on line 3


def test_off_hour_values_are_counted_skips(tmp_path, stm_writer):
    t = pd.DatetimeIndex(["2020-01-01 00:00", "2020-01-01 00:30", "2020-01-01 01:00"])
    (s,) = read_stm(stm_writer(tmp_path, "N", "S", "sm", 0, 0.05, "EC5", t, [0.1, 0.2, 0.3]))
    assert s.values.tolist() == [0.1, 0.3] and s.removed_flags == {"off-hour": 1}


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        (["2020-01-01 00:00", "2020-01-01 00:00"], [0.1, 0.2], ":3: duplicated time stamp"),
        (["2020-01-01 01:00", "2020-01-01 00:00"], [0.1, 0.2], ":3: time stamps out of order"),
        (["2020-01-01 00:00", "2020-01-01 01:00"], [0.1, 25.0], ":3: soil moisture 25 outside"),
        (["2020-01-01 00:00", "2020-01-01 01:00"], [0.1, -0.2], ":3: soil moisture -0.2 outside"),
    ],
)
def test_bad_series_name_file_and_line(tmp_path, stm_writer, times, values, message):
    p = stm_writer(tmp_path, "N", "S", "sm", 0, 0.05, "EC5", pd.DatetimeIndex(times), values)
    with pytest.raises(ValueError, match=message) as err:
        read_stm(p)
    assert p.name in str(err.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2020/01/01 02:00", ":4: missing value or flag"),
        ("2020/01/01 02:00 abc G M", ":4: value is not a number"),
        ("2020/13/01 02:00 0.2 G M", ":4: cannot parse the time stamp"),
        ("2020/01/01 02", ":4: "),
    ],
)
def test_malformed_lines_name_file_and_line(line, message):
    text = (
        "NET NET ST 45.0 7.0 100.0 0.00 0.05 EC5\r\n"
        "2020/01/01 00:00 0.1 G M\r\n2020/01/01 01:00 0.1 G M\r\n" + line + "\r\n"
    )
    name = "NET_NET_ST_sm_0.000000_0.050000_EC5_20200101_20200101.stm"
    with pytest.raises(ValueError, match=message) as err:
        parse_stm(text.encode(), name)
    assert name in str(err.value)


def test_provider_flags_with_blanks_are_one_field():
    """RISMA writes provider flags such as 'Frozen soil,OK,OK' (blanks inside)."""
    text = (
        "RISMA RISMA MB11 49.5 -98.0 300.0 0.00 0.05 Hydraprobe-II-Sdi-12-C\n"
        "2020/01/01 00:00 0.1 G Frozen soil,OK,OK\n2020/01/01 01:00 0.2 G OK\n"
        "2020/01/01 02:00 0.3 D02 Out of WFV average range,NA,NA,OK\n"
    )
    name = "RISMA_RISMA_MB11_sm_0.000000_0.050000_Hydraprobe-II-Sdi-12-C_20200101_20200101.stm"
    (s,) = parse_stm(text.encode(), name)
    assert s.values.tolist() == [0.1, 0.2] and s.removed_flags == {"D02": 1}


def test_bad_header_and_file_name():
    with pytest.raises(ValueError, match=":1: not an ISMN Header"):
        parse_stm(
            b"garbage\n2020/01/01 00:00 0.1 G M\n", "N_N_S_sm_0.0_0.05_X_20200101_20200101.stm"
        )
    with pytest.raises(ValueError, match="file name does not follow"):
        parse_stm(b"N N S 1 2 3 0 0.05 X\n2020/01/01 00:00 0.1 G M\n", "whatever.stm")
    with pytest.raises(ValueError, match="empty"):
        parse_stm(b"\r\n\r\n", "N_N_S_sm_0.0_0.05_X_20200101_20200101.stm")


def test_station_names_with_spaces_in_header(tmp_path):
    text = "CSE NET Station Two  45.0 7.0 100.0 0.00 0.05 EC5\n2020/01/01 00:00 0.1 G M\n"
    (s,) = parse_stm(
        text.encode(), "NET_NET_StationTwo_sm_0.000000_0.050000_EC5_20200101_20200101.stm"
    )
    assert s.station == "Station Two" and (s.lat, s.lon, s.depth_to) == (45.0, 7.0, 0.05)


def test_zip_and_variable_selection(tmp_path, stm_writer):
    t = _hours(3)
    stm_writer(tmp_path / "dl", "N", "S", "sm", 0, 0.05, "EC5", t, [0.1, 0.2, 0.3])
    stm_writer(tmp_path / "dl", "N", "S", "ts", 0, 0.05, "EC5", t, [10.0, 11.0, 12.0])
    stm_writer(tmp_path / "dl", "N", "S", "p", 0, 0, "gauge", t, [0.0, 1.0, 0.0])
    z = tmp_path / "download.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted((tmp_path / "dl").rglob("*.stm")):
            zf.write(f, f.relative_to(tmp_path / "dl"))
    from_zip = read_ismn(z)
    from_dir = read_ismn(tmp_path / "dl")
    assert sorted(s.variable for s in from_zip) == ["sm", "ts"]
    for a, b in zip(from_zip, from_dir, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
    with pytest.raises(FileNotFoundError):
        read_ismn(tmp_path / "nope")


# ------------------------------------------------------------------------------ sensors
@pytest.mark.parametrize(
    ("name", "technique"),
    [
        ("Cosmic-ray-Probe", "cosmic-ray"),
        ("CS616", "tdr"),
        ("CS650", "tdr"),
        ("CS655_B", "tdr"),
        ("TRIME-PICO", "tdr"),
        ("IMKO-TRIME", "tdr"),
        ("TDR-100", "tdr"),
        ("SPADE", "tdt"),
        ("Acclima-TDT", "tdt"),
        ("ThetaProbe-ML2X", "impedance"),
        ("Hydraprobe-II-Sdi-12_A", "impedance"),
        ("Stevens-Hydraprobe-II-Sdi-12", "impedance"),
        ("EC5", "capacitance"),
        ("EC-5", "capacitance"),
        ("5TM", "capacitance"),
        ("Decagon-5TE", "capacitance"),
        ("GS3", "capacitance"),
        ("TEROS-12", "capacitance"),
        ("EnviroSCAN", "fdr"),
        ("PR2", "fdr"),
        ("Delta-T-PR2", "fdr"),
    ],
)
def test_sensor_technique_table(name, technique):
    assert sensor_technique(name) == technique


def test_unknown_sensor_warns_once_with_its_name(caplog):
    with caplog.at_level(logging.WARNING, logger="smlib.io.sensors"):
        assert sensor_technique("Mystery-Probe-9000") == "unknown"
        assert sensor_technique("Mystery-Probe-9000") == "unknown"
    assert caplog.text.count("Mystery-Probe-9000") == 1
    assert (
        sensor_base_name("CS655_A") == "CS655"
        and sensor_base_name("ThetaProbe-ML2X") == "ThetaProbe-ML2X"
    )


def test_header_only_file_is_an_empty_counted_series(caplog):
    name = "N_N_S_sm_0.000000_0.050000_EC5_20200101_20200101.stm"
    with caplog.at_level(logging.WARNING, logger="smlib.io.ismn"):
        (s,) = parse_stm(b"N N S 45 7 100 0.00 0.05 EC5\r\n", name)
    assert (
        s.values.size == 0 and s.removed_flags == {"empty file": 1} and "header only" in caplog.text
    )


def test_series_to_xarray(tmp_path, stm_writer):
    p = stm_writer(tmp_path, "N", "S", "ts", 0.05, 0.05, "X", _hours(3), [1.0, 2.0, 3.0])
    da = read_stm(p)[0].to_xarray()
    assert da.attrs["units"] == "degC" and da.attrs["station"] == "N/S"
    assert da.sel(time="2020-06-01T01:00").item() == 2.0
