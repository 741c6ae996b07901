"""Measurement technique of an in-situ soil-moisture instrument, from its ISMN name.

The temperature artefact this project corrects is a property of the *technique*: dielectric
sensors that work at low frequencies (impedance, capacitance, FDR) respond to the
temperature dependence of the bulk permittivity and of the soil's electrical conductivity,
while time-domain methods (TDR, TDT) work at high frequencies and cosmic-ray neutron sensing
is not dielectric at all. The paper designates reference stations by this physics
(cosmic-ray, TDR, TDT), so the cube records a technique for every sensor.

ISMN file names carry the instrument name as the provider reported it
(``Cosmic-ray-Probe``, ``ThetaProbe-ML2X``, ``Hydraprobe-II-Sdi-12_A`` ...). The table
:data:`SENSOR_TECHNIQUES` maps them to a technique by case-insensitive regular expressions,
tried in order, first match wins:

============================================  ===========  ========================================
pattern (examples)                            technique    why
============================================  ===========  ========================================
Cosmic-ray-Probe, CRNS, CRS-1000/2000         cosmic-ray   neutron moderation, not dielectric
SPADE, Acclima TDT / Acclima-SDI-12           tdt          time-domain transmissivity
TDR-100/TDR100, TDR-315, TRIME, IMKO,         tdr          travel time of a pulse along rods; the
CS610/CS616/CS625/CS630/CS635/CS640/CS650/                 Campbell CS6xx water-content
CS655, SISOMOP, any name containing "TDR"                  reflectometers are grouped with TDR as
                                                           the issue and ISMN literature do
ThetaProbe (ML1/ML2/ML2X/ML3), Hydraprobe,    impedance    standing-wave / coaxial impedance
Stevens Hydra Probe                                        reflectometry at ~50-100 MHz
EC5/EC-5, EC-TM, ECH2O, 5TM, 5TE, GS1, GS3,   capacitance  fringe-field capacitance (METER/Decagon)
TEROS, 10HS, AquaCheck, WET
EnviroSCAN, Sentek, Drill & Drop, PR1/PR2,    fdr          frequency-domain capacitance probes
"FDR"
============================================  ===========  ========================================

A redundant-sensor suffix (``_A``, ``_B``, ``_1`` ..., which ISMN appends when a station has
several identical probes at one depth) is removed before the look-up. Names no pattern
matches become ``"unknown"`` and are reported once each with a warning that names them.
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "SENSOR_TECHNIQUES",
    "TECHNIQUES",
    "REFERENCE_TECHNIQUES",
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

#: Ordered (regular expression, technique) table; the first match wins.
SENSOR_TECHNIQUES: tuple[tuple[str, str], ...] = (
    (r"cosmic|crns|\bcrs[-_ ]?\d", "cosmic-ray"),
    (r"spade|tdt|acclima(?!.*tdr)", "tdt"),
    (
        r"tdr|trime|imko|sisomop|\bcs6(10|16|25|30|35|40|45|50|55)\b|^cs6(10|16|25|30|35|40|45|50|55)",
        "tdr",
    ),
    (r"theta[-_ ]?probe|\bml[123]x?\b|hydra[-_ ]?probe", "impedance"),
    (
        r"\bec[-_ ]?5\b|ec[-_ ]?tm|ech2o|\b5t[em]\b|^5t[em]|\bgs[13]\b|teros|10hs|aquacheck|\bwet\b",
        "capacitance",
    ),
    (r"enviro[-_ ]?scan|sentek|drill|\bpr[12]\b|^pr[12]|fdr", "fdr"),
)

_COMPILED = tuple((re.compile(p, re.IGNORECASE), t) for p, t in SENSOR_TECHNIQUES)
_SUFFIX = re.compile(r"_([A-Z]|\d{1,2})$")
_warned: set[str] = set()


def sensor_base_name(name: str) -> str:
    """Instrument name without ISMN's redundant-sensor suffix (``CS655_B`` -> ``CS655``)."""
    return _SUFFIX.sub("", name.strip())


def sensor_technique(name: str, *, warn: bool = True) -> str:
    """Measurement technique of an instrument name.

    Parameters
    ----------
    name : str
        Instrument name as in the ISMN file name or header (suffixes such as ``_A`` allowed).
    warn : bool
        Log a warning (once per name) when the name matches no pattern.

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
    base = sensor_base_name(name)
    for pattern, technique in _COMPILED:
        if pattern.search(base):
            return technique
    if warn and base not in _warned:
        _warned.add(base)
        logger.warning(
            "instrument %r matches no known technique; sensor_type set to 'unknown'", name
        )
    return "unknown"
