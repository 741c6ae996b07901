"""Readers for the real on-disk formats: ISMN, ERA5-Land, MERRA-2, FLUXNET2015/AmeriFlux/ICOS.

Owns the parsing of each format into plain records, the instrument table that says which
technique each sensor uses (``sensor_techniques.yml``, and the user's sensor map), and the
one-line errors and counted skips for damaged inputs. May import only the shared modules at the
top of :mod:`smlib`; it knows nothing of the station cube built from its records.
"""
