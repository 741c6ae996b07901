"""Measurement technique of an in-situ soil-moisture instrument, from its ISMN name.

The temperature artefact this project corrects is a property of the *technique*: dielectric
sensors that work at low frequencies (impedance, capacitance, FDR) respond to the
temperature dependence of the bulk permittivity and of the soil's electrical conductivity,
while time-domain methods (TDR, TDT) work at high frequencies and cosmic-ray neutron sensing
is not dielectric at all. The paper designates reference stations by this physics
(cosmic-ray, TDR, TDT), so the cube records a technique for every sensor.

The instrument table is data, not code: ``sensor_techniques.yml`` next to this module maps
every instrument name of the ISMN sensor lists to a technique and names the source of each
entry (manufacturer manuals, the ISMN overview paper). A user file in the same layout
(``smlib ingest --sensor-map FILE``) is read first and wins; it may also assign a technique
to a station (``stations: {NETWORK/STATION: tdr}``), which is how a station whose instrument
ISMN lists as ``n.s.`` (not specified) gets one. Look-up order for one name:

1. the user's ``stations`` entry for the station;
2. the exact name in ``names`` (case-insensitive);
3. the name without ISMN's redundant-probe suffix (``_A``, ``-B``, ``_1`` ...) in ``names``;
4. the ``patterns`` (regular expressions), first match wins;
5. otherwise ``"unknown"``. Such stations -- and those whose name is ``n.s.`` -- are not
   silent: :func:`smlib.data.ingest.ingest` lists them per station in the cube attribute
   ``sensor_notes`` and notebook 01 shows the list.

User file layout (every section optional)::

    names:                  # exact instrument names
      My-Probe-3000: [capacitance, "manufacturer manual, 2021"]
    patterns:               # regular expressions, searched in the name
      - ['^acme-tdr', tdr, "ACME data sheet"]
    stations:               # NETWORK/STATION -> technique (for n.s. and odd names)
      SCAN/Abrams: impedance
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

__all__ = [
    "TECHNIQUES",
    "REFERENCE_TECHNIQUES",
    "SENSOR_TABLE_FILE",
    "NOT_SPECIFIED",
    "SensorTable",
    "load_sensor_table",
    "default_sensor_table",
    "sensor_base_name",
    "sensor_technique",
]

logger = logging.getLogger(__name__)

#: Every technique label the cube uses.
TECHNIQUES: tuple[str, ...] = (
    "impedance",
    "capacitance",
    "fdr",
    "tdr",
    "tdt",
    "cosmic-ray",
    "unknown",
)

#: Techniques whose stations are references by sensor physics (paper, section 2.1).
REFERENCE_TECHNIQUES: frozenset[str] = frozenset({"cosmic-ray", "tdr", "tdt"})

#: The instrument table shipped with smlib.
SENSOR_TABLE_FILE: Path = Path(__file__).with_name("sensor_techniques.yml")

#: ISMN's name for an instrument the provider did not specify.
NOT_SPECIFIED = "n.s."

_SUFFIX = re.compile(r"(_([A-Z]|\d{1,2})|-[A-H])$")
_warned: set[str] = set()


def sensor_base_name(name: str) -> str:
    """Instrument name without ISMN's redundant-sensor suffix (``CS655_B`` -> ``CS655``)."""
    return _SUFFIX.sub("", name.strip())


@dataclass
class SensorTable:
    """Instrument name -> technique, with the source of every entry.

    Attributes
    ----------
    names : dict of str to (str, str)
        Lower-case exact name -> (technique, source).
    patterns : list of (re.Pattern, str, str)
        (compiled expression, technique, source), tried in order.
    stations : dict of str to str
        ``NETWORK/STATION`` -> technique (user files only).
    files : list of str
        The files the table was read from, highest priority first.
    """

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern, str, str]] = field(default_factory=list)
    stations: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def lookup(self, name: str, station: str | None = None) -> tuple[str, str]:
        """``(technique, source)`` of an instrument name (see the module docs for the order)."""
        if station is not None and station in self.stations:
            return self.stations[station], f"station entry in {self.files[0]}"
        key = name.strip().lower()
        if key in self.names:
            return self.names[key]
        base = sensor_base_name(name).lower()
        if base in self.names:
            return self.names[base]
        for pattern, technique, source in self.patterns:
            if pattern.search(base):
                return technique, source
        return "unknown", ""

    def technique(self, name: str, station: str | None = None) -> str:
        """Technique of an instrument name, one of :data:`TECHNIQUES`."""
        return self.lookup(name, station)[0]

    def is_mapped(self, name: str, station: str | None = None) -> bool:
        """True if the name (or station) has an entry other than ``n.s.`` or no match."""
        if station is not None and station in self.stations:
            return True
        if name.strip().lower() == NOT_SPECIFIED:
            return False
        return bool(self.lookup(name, station)[1])

    def merged_over(self, other: SensorTable) -> SensorTable:
        """This table's entries first, then ``other``'s (for a user file over the default)."""
        names = dict(other.names)
        names.update(self.names)
        return SensorTable(
            names=names,
            patterns=self.patterns + other.patterns,
            stations={**other.stations, **self.stations},
            files=self.files + other.files,
        )


def _check_technique(technique: object, where: str) -> str:
    t = str(technique).strip().lower()
    if t not in TECHNIQUES:
        raise ValueError(f"{where}: technique {technique!r} is not one of {list(TECHNIQUES)}")
    return t


def _parse_table(doc: object, path: str) -> SensorTable:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a sensor map is a YAML mapping (names / patterns / stations)")
    unknown = sorted(set(doc) - {"names", "patterns", "stations", "sources", "techniques"})
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {unknown}; use names, patterns, stations")
    sources = doc.get("sources") or {}
    table = SensorTable(files=[path])
    for name, entry in (doc.get("names") or {}).items():
        where = f"{path}: names: {name}"
        if isinstance(entry, str):
            technique, source = entry, path
        elif isinstance(entry, list) and 1 <= len(entry) <= 2:
            technique = entry[0]
            source = sources.get(entry[1], entry[1]) if len(entry) == 2 else path
        else:
            raise ValueError(f"{where}: expected 'technique' or [technique, source]")
        table.names[str(name).strip().lower()] = (_check_technique(technique, where), source)
    for i, entry in enumerate(doc.get("patterns") or []):
        where = f"{path}: patterns[{i}]"
        if not (isinstance(entry, list) and len(entry) in (2, 3)):
            raise ValueError(f"{where}: expected [regular expression, technique, source]")
        try:
            pattern = re.compile(str(entry[0]), re.IGNORECASE)
        except re.error as err:
            raise ValueError(f"{where}: bad regular expression {entry[0]!r}: {err}") from None
        source = sources.get(entry[2], entry[2]) if len(entry) == 3 else path
        table.patterns.append((pattern, _check_technique(entry[1], where), source))
    for sid, technique in (doc.get("stations") or {}).items():
        table.stations[str(sid)] = _check_technique(technique, f"{path}: stations: {sid}")
    return table


def _read_yaml(path: Path) -> object:
    if not path.is_file():
        raise FileNotFoundError(f"sensor map {path} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None


@lru_cache(maxsize=1)
def default_sensor_table() -> SensorTable:
    """The instrument table shipped with smlib (:data:`SENSOR_TABLE_FILE`)."""
    return _parse_table(_read_yaml(SENSOR_TABLE_FILE), SENSOR_TABLE_FILE.name)


def load_sensor_table(sensor_map: str | os.PathLike | None = None) -> SensorTable:
    """The shipped table, with a user's sensor map (if any) read first.

    Parameters
    ----------
    sensor_map : path, optional
        User YAML (layout in the module docs).

    Returns
    -------
    SensorTable

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, invalid YAML, or an unknown technique (naming file and entry).
    """
    table = default_sensor_table()
    if sensor_map is None:
        return table
    path = Path(sensor_map)
    return _parse_table(_read_yaml(path), str(path)).merged_over(table)


def sensor_technique(name: str, *, warn: bool = True, table: SensorTable | None = None) -> str:
    """Measurement technique of an instrument name.

    Parameters
    ----------
    name : str
        Instrument name as in the ISMN file name or header (suffixes such as ``_A`` allowed).
    warn : bool
        Log a warning (once per name) when the name is not in the table.
    table : SensorTable, optional
        Default: :func:`default_sensor_table`.

    Returns
    -------
    str
        One of :data:`TECHNIQUES`.

    Examples
    --------
    >>> sensor_technique("Cosmic-ray-Probe"), sensor_technique("ThetaProbe-ML2X")
    ('cosmic-ray', 'impedance')
    >>> sensor_technique("CS655_A"), sensor_technique("EC5")
    ('tdr', 'capacitance')
    """
    table = table or default_sensor_table()
    technique, source = table.lookup(name)
    if not source and warn and name not in _warned:
        _warned.add(name)
        logger.warning(
            "instrument %r is not in the instrument table; sensor_type set to 'unknown' "
            "(add it with --sensor-map FILE)",
            name,
        )
    return technique
