"""The report: the study as a reader sees it.

Owns the cached study pipeline (:mod:`~smlib.report.pipeline`), the evaluation report that
``smlib evaluate`` writes (:mod:`~smlib.report.evaluate`), the figures (:mod:`~smlib.report.plots`),
the notebooks' helpers (:mod:`~smlib.report.study`), the station explorer, tables and results at a
glance, the offline map data, and the Jupyter Book runner with its papermill engine.

May import every stage below it: the shared modules, :mod:`smlib.io`, :mod:`smlib.synth`,
:mod:`smlib.data`, :mod:`smlib.method`, :mod:`smlib.evaluation`, :mod:`smlib.ops`. Only the CLI
sits above it.
"""
