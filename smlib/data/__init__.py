"""The data stage: the harmonised station cube and the data manifest.

Owns the cube -- its schema (:mod:`~smlib.data.schema`), the station-level QC rules
(:mod:`~smlib.data.qc`, :mod:`~smlib.data.selection`), the reference designation
(:mod:`~smlib.data.references`), the record of which source screens each station-day for rain
(:mod:`~smlib.data.rain`) and the ingest that joins ISMN, reanalysis and tower records
(:mod:`~smlib.data.ingest`) -- and the data manifest (:mod:`~smlib.data.manifest`: provenance,
licences, how to obtain each dataset). May import the shared modules at the top of
:mod:`smlib` and :mod:`smlib.io`; nothing above. The cube's public names are importable from
``smlib.data``.

The cube is the contract between the readers and everything downstream (see
``docs/architecture.md``): a CF-1.8 ``xarray.Dataset`` on dims ``(station, time)``, hourly UTC, with
stations ``NETWORK/STATION`` (ISMN) and ``FLUXNET/<SITE_ID>`` (towers).

Station-level QC (paper, section 2.1; each rule's removals are counted in ``qc_summary``)
--------------------------------------------------------------------------------------
0. ``unreadable`` -- a station with a file that cannot be read or that holds an impossible
   ``G`` value (SM outside 0-1 m3 m-3, TS outside -60..80 degC) is left out whole under
   ``on_error="skip"`` (the default), its reason ``FILE:LINE: what is wrong``; with
   ``on_error="raise"`` the ingest stops there. Skipped reanalysis files cost no station.
   Every skipped file is also listed in the attribute ``skipped_inputs``. A tower file is
   refused only when more than 1 % of its SWC values lie outside 0..100 %; fewer are set
   missing and counted under ``tower_swc_range`` (a probe in dry soil reads a little below
   zero now and then).
1. ``depth`` -- SM and TS sensors with ``depth_to <= 0.10 m`` only. Cosmic-ray probes report
   their footprint's penetration depth (ISMN: ``0.00-0.19 m`` and similar), always measured
   from the surface; they are kept when ``depth_from <= 0.10 m`` so that the paper's
   cosmic-ray reference stations can exist at all. A reference station (by sensor physics or
   the explicit list) needs SM only: without a TS sensor it is kept with ``ts`` NaN.
2. ``flag_good`` -- only values flagged ``G`` (applied by :mod:`smlib.io.ismn`; counted here).
3. ``one_sensor`` -- one SM and one TS sensor per station: among all (SM, TS) pairs the one
   whose mid-depths are nearest; ties go to the shallower SM sensor, then the shallower TS
   sensor, then the pair with more common ``G`` hours, then sensor names and file names in
   alphabetical order (so redundant ``_A``/``_B`` probes resolve deterministically).
4. ``complete_local_days`` -- a local day (local solar midnight to midnight, see
   :mod:`smlib.timeutils`) is kept only if all 24 hourly SM *and* TS values are present
   (towers: SM and LH). Every in-situ value on any other day becomes NaN, except at towers,
   whose SM and TS are the correction's inputs: their SM stays on every day complete in SM
   (with or without LH) and their TS on every day, so that the 24-h LF and the input windows
   see runs of hours; their LH stays on the days complete in both, the days of the coupling.
5. ``min_days`` -- a station needs at least ``min_days`` (default 92) such days.

SM-only reference stations go through rules 4 and 5 with SM alone. Towers
(``FLUXNET/<SITE_ID>``) go through rules 4 and 5 with SM and LH; their files name no
instrument or depth, so ``sensor`` is the source column, ``sensor_type`` is ``unknown`` and
the depths are NaN. The station's own rain gauge -- ISMN ``p`` (the ``G`` values of the
gauge with the most of them; ISMN's hourly value is taken as the total of the hour ending at
its stamp) or tower P -- is kept on every hour as ``precip``; ``insitu_rain_source`` records
which source screens each local day for rain (:func:`insitu_rain_source`).

The global attribute ``qc_summary`` is JSON: for each rule in order, ``description``,
``stations_removed``, ``days_removed`` (station-days), ``values_removed``, ``reasons``
(station id -> why it was removed) and, where useful, ``detail`` (e.g. values per ISMN flag).
The same table is logged at INFO level.

Reference stations are designated by sensor physics (cosmic-ray, TDR, TDT; see
:mod:`smlib.io.sensors`) unless an explicit list of ids is given. Towers are never references.

The time axis is hourly UTC from 00 UTC of the first day with kept in-situ data to 23 UTC of
the last; fluxes are means (precipitation totals) of the hour *ending* at the stamp.
"""

from __future__ import annotations

from smlib.data.ingest import (
    ingest,
)
from smlib.data.qc import (
    MAX_DEPTH_M,
    MIN_DAYS,
    QCReport,
    sensor_notes,
    skipped_inputs,
)
from smlib.data.rain import (
    GAUGE_MIN_HOURS,
    RAIN_SOURCE_FLAGS,
    insitu_rain_source,
    rain_source_days,
)
from smlib.data.references import (
    read_reference_ids,
    reference_and_gauge_table,
)
from smlib.data.schema import (
    CUBE_SCHEMA_VERSION,
    STATION_COORDS,
    VARIABLE_ATTRS,
    ismn_stations,
    open_cube,
    station_kind,
    validate_cube,
    write_atomic,
)
from smlib.data.selection import (
    complete_day_mask,
    count_days_with_data,
    select_sensor_pair,
    within_depth,
)

__all__ = [
    "CUBE_SCHEMA_VERSION",
    "VARIABLE_ATTRS",
    "STATION_COORDS",
    "open_cube",
    "validate_cube",
    "station_kind",
    "ismn_stations",
    "write_atomic",
    "MAX_DEPTH_M",
    "MIN_DAYS",
    "QCReport",
    "skipped_inputs",
    "sensor_notes",
    "select_sensor_pair",
    "within_depth",
    "complete_day_mask",
    "count_days_with_data",
    "read_reference_ids",
    "reference_and_gauge_table",
    "GAUGE_MIN_HOURS",
    "RAIN_SOURCE_FLAGS",
    "rain_source_days",
    "insitu_rain_source",
    "ingest",
]
