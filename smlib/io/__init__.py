"""Readers for the real on-disk formats: ISMN, ERA5-Land, MERRA-2, FLUXNET2015/AmeriFlux/ICOS."""
