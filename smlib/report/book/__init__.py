"""The book runner: execute every notebook of a profile with papermill, then render the HTML.

Modules: :mod:`~smlib.report.book.plan` (the params YAML and the table of contents),
:mod:`~smlib.report.book.execution` (execution keys, the kernel, parameters, papermill),
:mod:`~smlib.report.book.pages` (the generated pages) and :mod:`~smlib.report.book.build`
(:func:`build_book`). The public names are importable from ``smlib.report.book``.

One YAML file per profile (``params/quick.yml``, ``params/paper.yml``) drives both the
execution and the table of contents (NCAR CUPiD's pattern)::

    profile: quick
    description: ...
    twin: {n_stations: 12, n_days: 240, seed: 0}   # keyword arguments of smlib.synth.write_twin
    defaults: {}                                   # parameters given to every notebook
    notebooks:                                     # in book order
      - notebook: 00_overview.ipynb
        title: Overview                            # optional, else the notebook's own title
        parameters: {map_extent: null}

:func:`build_book` then

1. writes the embedded synthetic twin when no data folder is given (once per profile; reused
   while its parameters and ``smlib.synth`` are unchanged);
2. executes each notebook with papermill into ``book/sections/NAME.ipynb`` (never in place),
   adding the parameters ``data_dir``, ``work_dir`` (a folder shared by the notebooks of one
   build) and ``profile``. A notebook is skipped when its *execution key* -- a sha256 of the
   notebook, its parameters, the data folder's listing (names, sizes, modification times),
   the smlib version and source, and the keys of the notebooks before it -- equals the one
   stored next to its executed copy (``NAME.key.json``). A failing notebook stops the build
   with :class:`NotebookFailed`, which carries the failing cell's traceback; the executed copies
   before it are kept and the failed copy is left as ``NAME.failed.ipynb`` for inspection.
   The kernels run with ``SMLIB_PROGRESS=0`` (:mod:`smlib.progress`), so no progress bar is
   saved into a page, and each executed copy shows one parameters cell, the values it ran
   with (:func:`present_parameters`);
3. writes ``book/_toc.yml`` from the notebook list (only if it changed), the profile notice
   and the results at a glance (:mod:`smlib.report.glance`, from this build's evaluation summary)
   included by the introduction, and the generated part of the reproducibility page;
4. builds ``book/_build/html`` with ``jupyter-book build`` (``execute_notebooks: off``).

Stage timings go to ``book/sections/_timings.json``.
"""

from __future__ import annotations

from smlib.errors import NotebookFailed
from smlib.report.book.build import REPO_ROOT, book_work_dir, build_book, split_overrides
from smlib.report.book.execution import CELL_TIMEOUT_S, execution_key, present_parameters
from smlib.report.book.plan import RUNNER_PARAMETERS, BookPlan, NotebookSpec, load_plan, toc_yaml

__all__ = [
    "BookPlan",
    "CELL_TIMEOUT_S",
    "NotebookFailed",
    "NotebookSpec",
    "REPO_ROOT",
    "RUNNER_PARAMETERS",
    "book_work_dir",
    "build_book",
    "execution_key",
    "load_plan",
    "present_parameters",
    "split_overrides",
    "toc_yaml",
]
