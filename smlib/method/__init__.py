"""The method: everything that turns a station cube into corrected soil moisture.

Owns the preprocessing (rain screens, gap filling, LF/HF decomposition, the R(SM, TS) training
filter, scaling and windows), the network architectures and their training, the run folder
(checkpoint, scaler, configuration; :func:`~smlib.method.runfolder.load_model`), the correction
(network series, guided compensation, flags), the Fourier and per-probe baselines, the registry of
correction methods and the distributed-training context.

May import: the shared modules at the top of :mod:`smlib`, :mod:`smlib.io`, :mod:`smlib.data`.
Nothing in here imports the evaluation, the operational tools or the report.
"""
