"""The evaluation: numbers that say how good a correction is.

Owns the metric kernels on NumPy arrays (:mod:`~smlib.evaluation.metrics`), their xarray wrappers
(:mod:`~smlib.evaluation.diagnostics`), skill against the twin's truth on hour scopes
(:mod:`~smlib.evaluation.skill`), what each signal estimate -- the network above all -- adds to
the default product (:mod:`~smlib.evaluation.signal_ablation`), and the gradient-based lag
sensitivity
(:mod:`~smlib.evaluation.sensitivity`). It computes; it draws nothing and writes no report (that is
:mod:`smlib.report`).

May import: the shared modules, :mod:`smlib.io`, :mod:`smlib.data`, :mod:`smlib.method`.
"""
