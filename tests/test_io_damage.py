"""Damaged inputs: every unreadable file is one line naming file and line, or a recorded skip.

Synthetic files cover every case; the real samples in ../shared/realdata, damaged the same way,
repeat the cases where they fit (those tests skip cleanly without the folder).
"""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from smlib.io.errors import InputError, SkippedInput, check_on_error, skip_or_raise
from smlib.io.ismn import iter_ismn, parse_stm, read_stm, station_of_file
from smlib.io.sensors import (
    NOT_SPECIFIED,
    default_sensor_table,
    load_sensor_table,
    sensor_technique,
)

COSMOS_ARM = (
    "ismn_TUW-GEO_ismn_tests/Data_seperate_files_header_20170810_20180809/COSMOS/ARM-1/"
    "COSMOS_COSMOS_ARM-1_sm_0.000000_0.190000_Cosmic-ray-Probe_20170810_20180809.stm"
)


def _hours(n, start="2020-06-01"):
    return pd.date_range(start, periods=n, freq="h")


# ------------------------------------------------------------------------------ errors module
def test_input_error_is_one_line_value_error():
    err = InputError("a/b.stm", "bad\nthing  here", line=7)
    assert isinstance(err, ValueError) and str(err) == "a/b.stm:7: bad thing here"
    assert str(InputError("x.nc", "broken")) == "x.nc: broken"


def test_skip_or_raise_records_or_raises(caplog):
    skipped: list[SkippedInput] = []
    rec = skip_or_raise(OSError("x.nc: HDF error"), "x.nc", "skip", skipped, source="era5")
    assert skipped == [rec] and rec.reason == "HDF error" and rec.describe() == "x.nc: HDF error"
    assert "skipped x.nc: HDF error" in caplog.text
    with pytest.raises(InputError, match=r"^y.nc: truncated$"):
        skip_or_raise(OSError("truncated"), "y.nc", "raise", skipped)
    with pytest.raises(ValueError, match="on_error must be one of"):
        check_on_error("ignore")


# ------------------------------------------------------------------------------ ISMN files
@pytest.mark.parametrize(
    ("variable", "values", "message"),
    [
        ("sm", [0.2, 35.0], "soil moisture 35 outside the possible range 0..1 m3 m-3 (percent"),
        ("ts", [12.0, 95.0], "soil temperature 95 outside the possible range -60..80 degC"),
        ("ts", [12.0, -70.0], "soil temperature -70 outside"),
        ("p", [0.0, -1.0], "precipitation -1 outside"),
    ],
)
def test_impossible_values_name_file_and_line(tmp_path, stm_writer, variable, values, message):
    p = stm_writer(tmp_path, "N", "S", variable, 0, 0.05, "EC5", _hours(2), values)
    with pytest.raises(InputError, match=":3: " + message.replace("(", r"\(")) as err:
        read_stm(p)
    assert err.value.file == str(p) and err.value.line == 3


def test_flagged_impossible_values_are_not_errors(tmp_path, stm_writer):
    """Only G values must be possible: ISMN already flags the others (C01-C03, D..)."""
    p = stm_writer(tmp_path, "N", "S", "sm", 0, 0.05, "EC5", _hours(2), [0.2, 35.0], ["G", "C02"])
    (s,) = read_stm(p)
    assert s.values.tolist() == [0.2] and s.removed_flags == {"C02": 1}


@pytest.mark.parametrize("cut", [0.3, 0.6])
def test_truncated_stm_is_detected_even_at_a_line_end(tmp_path, stm_writer, cut):
    t = _hours(72)
    p = stm_writer(tmp_path, "N", "S", "sm", 0, 0.05, "EC5", t, np.full(t.size, 0.2))
    raw = p.read_bytes()
    lines = raw.split(b"\n")
    whole = b"\n".join(lines[: int(len(lines) * cut)]) + b"\n"  # ends on a complete line
    p.write_bytes(whole)
    with pytest.raises(InputError, match="the file name says 2020-06-03: the file is truncated"):
        read_stm(p)
    p.write_bytes(raw[: int(len(raw) * cut) + 3])  # ends inside a line
    with pytest.raises(InputError, match=str(p.name)):
        read_stm(p)


def test_station_of_file_from_folders_name_or_zip_member():
    name = "dl/FR_Aqui/Le Bray/FR_Aqui_FR_Aqui_Le Bray_sm_0.0_0.05_X_20200101_20200102.stm"
    assert station_of_file(name) == "FR_Aqui/Le Bray"
    assert station_of_file("a.zip!NET/ST/NET_NET_ST_sm_0.0_0.05_X_20200101_20200101.stm") == (
        "NET/ST"
    )
    assert station_of_file("CSE_NET_ST_sm_0.0_0.05_X_20200101_20200101.stm") == "NET/ST"


def test_iter_ismn_skips_damaged_files_and_names_their_station(tmp_path, stm_writer):
    t = _hours(24)
    ok = stm_writer(tmp_path, "N", "good", "sm", 0, 0.05, "EC5", t, np.full(24, 0.2))
    bad = stm_writer(tmp_path, "N", "bad", "sm", 0, 0.05, "EC5", t, np.full(24, 20.0))
    with pytest.raises(InputError, match="bad"):
        list(iter_ismn(tmp_path))
    skipped: list[SkippedInput] = []
    series = list(iter_ismn(tmp_path, on_error="skip", skipped=skipped))
    assert [s.source for s in series] == [str(ok)]
    (rec,) = skipped
    assert (rec.file, rec.line, rec.station, rec.source) == (str(bad), 2, "N/bad", "ismn")


def test_damaged_zip_member_and_truncated_zip(tmp_path, stm_writer):
    t = _hours(24)
    a = stm_writer(tmp_path / "dl", "N", "A", "sm", 0, 0.05, "EC5", t, np.full(24, 0.2))
    b = stm_writer(tmp_path / "dl", "N", "B", "sm", 0, 0.05, "EC5", t, np.full(24, 0.3))
    z = tmp_path / "download.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in (a, b):
            zf.write(f, f.relative_to(tmp_path / "dl"))
    raw = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("N/B/" + b.name)
    # flip bytes inside member B's compressed data: its CRC no longer matches
    start = info.header_offset + 30 + len(info.filename) + 5
    raw[start : start + 8] = b"\x00" * 8
    z.write_bytes(bytes(raw))
    skipped: list[SkippedInput] = []
    series = list(iter_ismn(z, on_error="skip", skipped=skipped))
    assert [s.station for s in series] == ["A"]
    (rec,) = skipped
    assert rec.station == "N/B" and rec.file == f"{z}!N/B/{b.name}"
    # a zip cut short by an interrupted download is not a zip any more: one line
    cut = tmp_path / "cut.zip"
    cut.write_bytes(z.read_bytes()[:100])
    with pytest.raises(InputError, match=r"cut.zip: not a readable zip archive"):
        list(iter_ismn(cut))


def test_ceop_separate_and_combined_layouts_synthetic():
    """The CEOP layouts without ../shared: one separate file and one combined file."""
    t = _hours(3, "2010-10-21 01:00")
    sep = "".join(
        f"{x:%Y/%m/%d %H:%M} {x:%Y/%m/%d %H:%M} SMOSMANIA SMOSMANIA Narbonne 43.15 2.9567 112.0 "
        f"0.05 0.05 {v:.3f} G M\r"
        for x, v in zip(t, [0.15, 0.16, 0.17], strict=True)
    )
    name = "SMOSMANIA_SMOSMANIA_Narbonne_sm_0.050000_0.050000_ThetaProbe-ML2X_20101021_20101021.stm"
    (s,) = parse_stm(sep.encode(), name)
    assert s.station == "Narbonne" and s.sensor == "ThetaProbe-ML2X" and s.depth_to == 0.05
    assert s.values.tolist() == [0.15, 0.16, 0.17] and s.lat == 43.15
    comb = "".join(
        f"{x:%Y/%m/%d %H:%M} {x:%Y/%m/%d %H:%M} SMOSMANIA SMOSMANIA NBN 43.15 2.9567 112.0 - "
        f"{d:.2f} {ts:.2f} G {sm:.3f} G\r"
        for x in t
        for d, ts, sm in ((0.05, 12.5, 0.2), (0.20, -999.99, 0.25))
    )
    out = parse_stm(comb.encode(), "SMOSMANIA_SMOSMANIA_NBN_20100304_20130801.stm")
    assert sorted((s.variable, s.depth_to) for s in out) == [
        ("sm", 0.05), ("sm", 0.2), ("ts", 0.05),
    ]  # fmt: skip
    (ts,) = [s for s in out if s.variable == "ts"]
    assert ts.values.tolist() == [12.5] * 3 and ts.sensor == ""


@pytest.mark.realdata
def test_real_samples_damaged(realdata, tmp_path):
    """The COSMOS sample cut short, and with one value in percent: both one line."""
    raw = (realdata / COSMOS_ARM).read_bytes()
    cut = tmp_path / "COSMOS" / "ARM-1" / (realdata / COSMOS_ARM).name
    cut.parent.mkdir(parents=True)
    cut.write_bytes(raw[: raw.rfind(b"\n", 0, len(raw) // 3) + 1])  # ends on a whole line
    with pytest.raises(InputError, match="truncated") as err:
        read_stm(cut)
    assert str(cut) in str(err.value) and "\n" not in str(err.value)
    lines = raw.decode().replace("\r\n", "\n").replace("\r", "\n").splitlines()
    k = next(i for i, ln in enumerate(lines[1:], 1) if ln.split()[3:4] == ["G"])
    tok = lines[k].split()
    tok[2] = f"{100 * float(tok[2]):.2f}"  # one good value in percent
    pct = tmp_path / (realdata / COSMOS_ARM).name
    pct.write_text("\n".join([*lines[:k], " ".join(tok), *lines[k + 1 :]]) + "\n")
    with pytest.raises(InputError, match=f":{k + 1}: soil moisture .* outside the possible"):
        read_stm(pct)


# ------------------------------------------------------------------------------ sensor table
def test_shipped_table_maps_every_entry_with_a_source():
    table = default_sensor_table()
    assert len(table.names) >= 80
    assert all(src for _, src in table.names.values())
    for name, technique in [
        ("Stevens-Hydraprobe-II-Sdi-12", "impedance"),
        ("Hydraprobe-Analog-(2.5-Volt)", "impedance"),
        ("Hydraprobe-II-Sdi-12-C", "impedance"),  # RISMA's redundant-probe suffix
        ("CS616-1", "tdr"),
        ("TRASE-16", "tdr"),
        ("TEROS12", "capacitance"),
        ("EnviroSMART", "fdr"),
        ("SPADE-Time-Domain-Transmissivity", "tdt"),
        ("Water-Matric-Potential-Sensor-229L", "unknown"),
    ]:
        assert table.technique(name) == technique, name
    assert table.technique(NOT_SPECIFIED) == "unknown" and not table.is_mapped(NOT_SPECIFIED)
    assert table.is_mapped("CS655_B") and not table.is_mapped("Mystery-9000")


def test_user_sensor_map_wins_and_maps_stations(tmp_path):
    f = tmp_path / "map.yml"
    f.write_text(
        "names:\n  Mystery-9000: [capacitance, 'data sheet 2021']\n  EC5: tdr\n"
        "patterns:\n  - ['^acme', tdt, ACME]\n"
        "stations:\n  SCAN/Abrams: impedance\n"
    )
    table = load_sensor_table(f)
    assert table.lookup("Mystery-9000") == ("capacitance", "data sheet 2021")
    assert table.technique("EC5") == "tdr"  # the user's entry wins over the shipped one
    assert table.technique("ACME-probe") == "tdt"
    assert table.technique("ThetaProbe-ML2X") == "impedance"  # shipped entries still apply
    assert table.technique(NOT_SPECIFIED, "SCAN/Abrams") == "impedance"
    assert table.is_mapped(NOT_SPECIFIED, "SCAN/Abrams")
    assert sensor_technique("Mystery-9000", table=table) == "capacitance"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("names:\n  X: magic\n", "technique 'magic' is not one of"),
        ("patterns:\n  - ['(', tdr]\n", "bad regular expression"),
        ("sensors:\n  X: tdr\n", "unknown section"),
        ("names: [1, 2", "not valid YAML"),
    ],
)
def test_bad_sensor_map_is_a_clear_error(tmp_path, text, message):
    f = tmp_path / "map.yml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_sensor_table(f)
    assert str(f) in str(err.value)
    with pytest.raises(FileNotFoundError):
        load_sensor_table(tmp_path / "absent.yml")
