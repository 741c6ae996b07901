"""The study as a chain of cached stages: twin -> cube -> model -> corrected -> report.

Every notebook of the book starts with :func:`run_pipeline` and reads what it needs from the
returned :class:`Products`. A stage runs only when its output is missing or when anything it
depends on changed (its parameters, the stamps of its inputs, the smlib version); otherwise the
existing output is reused. The first notebook therefore does the work and the others start in
seconds, while each notebook still runs on its own under papermill.

The stamp of a stage is a SHA-256 over a JSON document of its parameters and its inputs' stamps,
stored next to the output as ``<output>.stamp.json`` together with the wall time it took. The
parameters include a digest of the smlib sources the stage depends on (:data:`STAGE_MODULES`),
so editing, say, :mod:`smlib.report.evaluate` re-runs the evaluation but not the training.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smlib import __version__
from smlib.atomic import atomic_dir, atomic_write_text
from smlib.digests import json_digest, source_digest, tree_signature

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "Products",
    "run_pipeline",
    "data_layout",
    "ingest_data_dir",
    "stage_timings",
    "choices_for_data",
]

log = logging.getLogger(__name__)

#: Sub-folders of a data folder, as the twin writes them and data_manifest.yml documents them.
LAYOUT = {
    "ismn": "ismn",
    "era5": "era5land",
    "merra2": "merra2",
    "fluxnet": "fluxnet",
    "truth": "truth.nc",
}


@dataclass(frozen=True)
class Products:
    """Paths of everything a study run produced.

    Attributes
    ----------
    data_dir : Path
        Folder of raw inputs (real archives or the twin).
    work_dir : Path
        Folder of derived products of this profile.
    cube : Path
        Harmonised station cube (NetCDF).
    run_dir : Path
        Training run directory (config, scaler, checkpoints, metrics).
    corrected : Path
        Corrected series (``sm``, ``ts``, ``sm_lstm``, ``sm_fft``).
    report_dir : Path
        Output of :func:`smlib.report.evaluate.evaluate` (figures, tables, ``summary.json``).
    truth : Path or None
        ``truth.nc`` of the twin; None for real data.
    profile : str
        Training profile used.
    timings : dict
        Wall time in seconds of each stage that ran in this call (0 for reused stages).
    """

    data_dir: Path
    work_dir: Path
    cube: Path
    run_dir: Path
    corrected: Path
    report_dir: Path
    truth: Path | None
    profile: str
    timings: dict[str, float] = field(default_factory=dict)


def data_layout(data_dir: str | os.PathLike) -> dict[str, Path | None]:
    """Locate the inputs in a data folder.

    Parameters
    ----------
    data_dir : path
        Folder with ``ismn/`` and optionally ``era5land/``, ``merra2/``, ``fluxnet/`` and
        ``truth.nc`` (the layout of :func:`smlib.synth.write_twin` and ``data_manifest.yml``).

    Returns
    -------
    dict
        Key -> existing path or None.

    Raises
    ------
    FileNotFoundError
        If the folder or its ``ismn/`` sub-folder does not exist.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    found = {key: (root / name if (root / name).exists() else None) for key, name in LAYOUT.items()}
    if found["ismn"] is None:
        raise FileNotFoundError(
            f"{root} has no ismn/ folder; see data_manifest.yml for the expected layout"
        )
    return found


def _stamp_path(output: Path) -> Path:
    return output.with_name(output.name + ".stamp.json")


#: The smlib modules each stage runs: a stage's output depends on their sources and on those of
#: every smlib module they import (:func:`smlib.digests.module_sources`), so editing any of
#: them re-runs the stage and a build never shows results of code that has since changed.
STAGE_MODULES: dict[str, tuple[str, ...]] = {
    "synth": ("smlib.synth",),
    "ingest": ("smlib.data",),
    "train": ("smlib.method.train",),
    "train_baseline": ("smlib.method.train",),
    "correct": ("smlib.method.correct",),
    "evaluate": ("smlib.report.evaluate",),
}


def _code_digest(stage: str) -> str:
    """SHA-256 over the sources the stage depends on (:data:`STAGE_MODULES`).

    Raises
    ------
    KeyError
        A stage without an entry: every stage must say what code it runs.
    """
    return source_digest(STAGE_MODULES[stage])


def _stage(
    name: str,
    output: Path,
    params: dict[str, Any],
    action: Callable[[], object],
    force: bool,
    timings: dict[str, float],
) -> str:
    """Run ``action`` unless ``output`` is up to date for ``params``; return the stage stamp."""
    doc = {"stage": name, "smlib": __version__, "code": _code_digest(name), **params}
    digest = json_digest(doc)
    stamp_file = _stamp_path(output)
    if not force and output.exists() and stamp_file.exists():
        try:
            old = json.loads(stamp_file.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("digest") == digest:
            log.info("%s: up to date (%s)", name, output)
            timings[name] = 0.0
            return digest
    log.info("%s: running -> %s", name, output)
    t0 = time.perf_counter()
    action()
    elapsed = time.perf_counter() - t0
    timings[name] = elapsed
    atomic_write_text(
        stamp_file, json.dumps({"digest": digest, "seconds": elapsed, "params": doc}, indent=1)
    )
    return digest


#: Study budget (the book's ``--profile``) -> (training profile of the default product, training
#: profile of the paper's method shown beside it).
STUDY_PROFILES: dict[str, tuple[str, str]] = {
    "quick": ("recommended", "quick"),
    "paper": ("recommended_full", "paper"),
}


def run_pipeline(
    data_dir: str | os.PathLike | None = None,
    work_dir: str | os.PathLike = "build/quick",
    profile: str = "quick",
    overrides: Sequence[str] = (),
    twin: dict[str, Any] | None = None,
    methods: Sequence[str] = ("lstm", "fft", "lin", "chanzy"),
    baseline_profile: str | None = None,
    fft_product: str = "mean",
    min_days: int = 92,
    force: bool = False,
) -> Products:
    """Produce (or reuse) every product of one study run.

    Parameters
    ----------
    data_dir : path, optional
        Raw inputs. None: the embedded twin, generated into ``work_dir/twin`` with ``twin``.
    work_dir : path
        Folder for derived products.
    profile : str
        A study budget of :data:`STUDY_PROFILES` (``quick``, ``paper``: the recommended
        configuration with the paper's method beside it), or the training profile of the main
        model (:data:`smlib.config.PROFILES`; the book uses
        ``recommended``, or ``recommended_full`` for the paper budget).
    baseline_profile : str, optional
        A second model trained beside it whose network series enters the corrected file as
        ``sm_paper`` (the book: ``quick`` or ``paper``, the paper's method).
    overrides : sequence of str
        ``key=value`` overrides of the training configuration (strict keys).
    twin : dict, optional
        Keyword arguments of :func:`smlib.synth.write_twin` (``n_stations``, ``n_days``,
        ``seed``); ignored when ``data_dir`` is given.
    methods : sequence of str
        Correction methods (``lstm``, ``fft``).
    fft_product : {"era5", "merra2", "mean"}
        Reanalysis whose diurnal shape the Fourier baseline adopts.
    min_days : int
        Station selection: minimum complete local days with SM and TS (paper: 92).
    force : bool
        Re-run every stage.

    Returns
    -------
    Products
        Paths of the products and the time each stage took.
    """
    if profile in STUDY_PROFILES and baseline_profile is None:
        profile, baseline_profile = STUDY_PROFILES[profile]
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    if data_dir is None:
        from smlib.synth import write_twin

        twin_kw = dict(twin or {})
        data = work / "twin"
        twin_stamp = _stage(
            "synth",
            data / "truth.nc",
            {"twin": twin_kw},
            lambda: write_twin(data, **twin_kw),
            force,
            timings,
        )
    else:
        data = Path(data_dir).resolve()
        twin_stamp = None
    layout = data_layout(data)

    cube = work / "cube.nc"
    cube_stamp = _stage(
        "ingest",
        cube,
        {
            "twin": twin_stamp,
            "min_days": min_days,
            "inputs": {
                k: tree_signature(v) if twin_stamp is None else str(v)
                for k, v in layout.items()
                if k != "truth"
            },
        },
        lambda: _ingest(layout, cube, min_days),
        force,
        timings,
    )

    overrides, methods = _follow_the_data(cube, work, overrides, methods, fft_product)
    run_dir = work / "runs" / profile
    model_stamp = _stage(
        "train",
        run_dir / "best.pt",
        {"cube": cube_stamp, "profile": profile, "overrides": list(overrides)},
        lambda: _train(cube, run_dir, profile, overrides),
        force,
        timings,
    )

    base_dir, base_stamp = None, None
    if baseline_profile:
        base_dir = work / "runs" / baseline_profile
        base_stamp = _stage(
            "train_baseline",
            base_dir / "best.pt",
            {"cube": cube_stamp, "profile": baseline_profile, "overrides": list(overrides)},
            lambda: _train(cube, base_dir, baseline_profile, overrides),
            force,
            timings,
        )

    corrected = work / f"corrected_{profile}.nc"
    corr_stamp = _stage(
        "correct",
        corrected,
        {
            "cube": cube_stamp,
            "model": model_stamp,
            "methods": list(methods),
            "fft": fft_product,
            "baseline": base_stamp,
        },  # fmt: skip
        lambda: _correct(cube, run_dir, corrected, methods, fft_product, base_dir),
        force,
        timings,
    )

    report = work / f"report_{profile}"
    _stage(
        "evaluate",
        report / "summary.json",
        {"corrected": corr_stamp},
        lambda: _evaluate(corrected, report, layout["truth"], run_dir, cube),
        force,
        timings,
    )
    _write_timings(work, timings)
    return Products(
        data_dir=data,
        work_dir=work,
        cube=cube,
        run_dir=run_dir,
        corrected=corrected,
        report_dir=report,
        truth=layout["truth"],
        profile=profile,
        timings=timings,
    )


def choices_for_data(
    cube: Any,
    overrides: Sequence[str] = (),
    methods: Sequence[str] = ("lstm", "fft", "lin", "chanzy"),
    fft_product: str = "mean",
) -> dict[str, Any]:
    """The feature set and correction methods a station cube can support.

    The paper's feature set (``paper14``) needs ERA5-Land and MERRA-2 at the stations. The
    rule, applied by :func:`run_pipeline` (hence the book) and ``smlib train``:

    * a cube without the ``era5_*`` or ``merra2_*`` variables, or in which no training station
      (ISMN, not a reference) has any value of both, uses the in-situ-only set ``insitu``;
    * partial coverage keeps the profile's feature set: stations outside every reanalysis box
      neither train nor get an LSTM correction (their hours are flagged "no inputs") --
      choose ``preprocess.feature_set=insitu`` to correct them too;
    * a ``preprocess.feature_set`` the user set always wins;
    * the Fourier baseline, which adopts a reanalysis' diurnal shape, is left out when the
      cube lacks the product it needs (``fft_product``).

    Parameters
    ----------
    cube : path or xarray.Dataset
        Station cube.
    overrides : sequence of str
        The user's training-configuration overrides.
    methods : sequence of str
        Requested correction methods.
    fft_product : {"era5", "merra2", "mean"}
        Reanalysis the Fourier baseline adopts.

    Returns
    -------
    dict
        ``overrides`` (``preprocess.feature_set=insitu`` added where the data need it and the
        user set none), ``methods``, ``feature_set`` (``"profile default"`` when unchanged),
        ``reason`` (one sentence for the training page), ``coverage`` (fraction of training
        stations with both reanalyses) and ``dropped_methods``.
    """
    import numpy as np
    import xarray as xr

    from smlib.method.preprocess import training_stations

    ds = cube if isinstance(cube, xr.Dataset) else xr.open_dataset(cube)
    try:
        train_rows = training_stations(ds)
        have = [p for p in ("era5", "merra2") if f"{p}_sm" in ds]
        covered = np.ones(ds.sizes["station"], dtype=bool)
        for p in ("era5", "merra2"):
            if p in have:
                covered &= np.isfinite(ds[f"{p}_sm"].values).any(axis=1)
            else:
                covered[:] = False
    finally:
        if ds is not cube:
            ds.close()
    n_train = int(train_rows.sum())
    coverage = float(covered[train_rows].mean()) if n_train else 0.0
    user_set = any(o.split("=", 1)[0].strip() == "preprocess.feature_set" for o in overrides)
    if len(have) < 2:
        missing = " and ".join(n for p, n in (("era5", "ERA5-Land"), ("merra2", "MERRA-2"))
                               if p not in have)  # fmt: skip
        feature_set, reason = "insitu", f"the data hold no {missing}"
    elif coverage == 0.0:
        feature_set, reason = "insitu", "no training station lies in a reanalysis box"
    else:
        feature_set = "profile default"
        reason = f"ERA5-Land and MERRA-2 cover {coverage:.0%} of the training stations"
    out = list(overrides)
    if user_set:
        reason = "set by the user (--set preprocess.feature_set=...)"
        feature_set = next(
            o.split("=", 1)[1].strip()
            for o in reversed(overrides)
            if o.split("=", 1)[0].strip() == "preprocess.feature_set"
        )
    elif feature_set == "insitu":
        out.append("preprocess.feature_set=insitu")
    need = {"era5": ["era5"], "merra2": ["merra2"]}.get(fft_product, ["era5", "merra2"])
    kept = [m for m in methods if not (m == "fft" and not set(need) <= set(have))]
    return {
        "overrides": out,
        "methods": kept,
        "feature_set": feature_set,
        "reason": reason,
        "coverage": coverage,
        "dropped_methods": sorted(set(methods) - set(kept)),
    }


def _follow_the_data(
    cube: Path, work: Path, overrides: Sequence[str], methods: Sequence[str], fft_product: str
) -> tuple[list[str], list[str]]:
    """Apply :func:`choices_for_data`, log it and record it in ``work/data_choices.json``."""
    choice = choices_for_data(cube, overrides, methods, fft_product)
    log.info(
        "feature set %s (%s)%s",
        choice["feature_set"],
        choice["reason"],
        f"; without reanalysis, methods {choice['dropped_methods']} are left out"
        if choice["dropped_methods"]
        else "",
    )
    atomic_write_text(work / "data_choices.json", json.dumps(choice, indent=2) + "\n")
    return choice["overrides"], choice["methods"]


def ingest_data_dir(
    data_dir: str | os.PathLike[str], out: str | os.PathLike[str], min_days: int = 92
) -> xr.Dataset:
    """Ingest a data folder laid out as :data:`LAYOUT` (the twin's, ``data_manifest.yml``'s)
    into a station cube at ``out``; what the ``ingest`` stage of :func:`run_pipeline` runs.

    Parameters
    ----------
    data_dir : path
        Folder with ``ismn/`` and, where present, ``era5land/``, ``merra2/``, ``fluxnet/``.
    out : path
        Station cube NetCDF to write.
    min_days : int
        Minimum complete local days of SM and TS a station needs (the paper's 92).

    Returns
    -------
    xarray.Dataset
        The cube, as :func:`smlib.data.ingest.ingest` returns it.
    """
    return _ingest(data_layout(data_dir), Path(out), min_days)


def _ingest(layout: dict[str, Path | None], out: Path, min_days: int) -> xr.Dataset:
    from smlib.data import ingest

    return ingest(
        min_days=min_days,
        ismn=layout["ismn"],
        era5=layout["era5"],
        merra2=layout["merra2"],
        fluxnet=[layout["fluxnet"]] if layout["fluxnet"] else [],
        out=out,
    )


def _train(cube: Path, run_dir: Path, profile: str, overrides: Sequence[str]) -> None:
    """Train into a fresh sibling folder, then swap it in: an out-of-date run is replaced whole
    and an interrupted training never leaves a half-written run where the old one was."""
    from smlib.method.train import train

    with atomic_dir(run_dir) as fresh:
        train(cube, fresh, profile=profile, overrides=list(overrides), resume=False)


def _correct(
    cube: Path,
    run_dir: Path,
    out: Path,
    methods: Sequence[str],
    fft_product: str,
    baseline_dir: Path | None = None,
) -> None:
    from smlib.method.correct import correct_file

    correct_file(
        cube, model_dir=run_dir, out=out, methods=list(methods), fft_product=fft_product,
        baseline_dir=baseline_dir,
    )  # fmt: skip


def _evaluate(corrected: Path, out: Path, truth: Path | None, run_dir: Path, cube: Path) -> None:
    from smlib.report.evaluate import evaluate

    evaluate(corrected, out=out, truth=truth, model_dir=run_dir, cube=cube)


def _write_timings(work: Path, timings: dict[str, float]) -> None:
    """Record the latest *non-zero* time of every stage in ``work/timings.json``."""
    path = work / "timings.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update({k: v for k, v in timings.items() if v > 0 or k not in old})
    atomic_write_text(path, json.dumps(old, indent=1))


def stage_timings(work_dir: str | os.PathLike) -> dict[str, float]:
    """Seconds each stage took when it last ran in ``work_dir`` (read from its stamps)."""
    path = Path(work_dir) / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}
