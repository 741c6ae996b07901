"""Operations: the trained method at archive scale and outside Python.

Owns the distilled students (:mod:`~smlib.ops.distill`), the ONNX export, the lazy dask
correction of a cube (:mod:`~smlib.ops.scale`), the block-wise resumable archive corrector and
its ISMN-format writer, and the throughput measurements the book reports.

May import: the shared modules, :mod:`smlib.io`, :mod:`smlib.data`, :mod:`smlib.method`. It does
not import the evaluation or the report.
"""
