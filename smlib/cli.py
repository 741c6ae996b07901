"""The ``smlib`` command.

Every sub-command is a thin shell over a typed library function, so anything the command
line does can be done from Python or a notebook with the same result::

    smlib synth OUT_DIR [--stations N] [--days N] [--seed N] [--scenario NAME]
    smlib synth --list-scenarios
    smlib ingest [--ismn PATH] [--era5 PATH] [--merra2 PATH] [--fluxnet PATH]... --out cube.nc
                 [--on-error skip|raise] [--sensor-map FILE]
    smlib data [DATA_DIR] [--manifest FILE]
    smlib train cube.nc --out runs/NAME [--profile recommended|recommended_full|quick|paper]
                [--set key=value]... [--resume]
    smlib correct cube.nc --model runs/NAME --out corrected.nc [--methods lstm,fft,lin,chanzy]
                  [--product flagged|paper] [--coefficients FILE]
                  [--format netcdf|zarr|ismn] [--workers N | --scheduler ADDRESS]
    smlib distill runs/NAME --out runs/NAME-op [--arch gru_student] [--set key=value]...
    smlib export runs/NAME --format onnx --out model.onnx [--quantize int8]
    smlib evaluate corrected.nc [--truth truth.nc] [--model runs/NAME] --out reports/NAME
    smlib book [--profile quick|paper] [--data DIR] [--force]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from smlib import __version__


class _ScenarioNames:
    """Names of the twin scenarios for argparse ``choices``, looked up only when argparse asks
    (so that building the parser does not import the simulator)."""

    def _names(self) -> list[str]:
        from smlib.synth.scenarios import SCENARIOS

        return list(SCENARIOS)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def _cmd_synth(a: argparse.Namespace) -> int:
    from smlib.synth import SCENARIOS, write_twin

    if a.list_scenarios:
        width = max(len(n) for n in SCENARIOS)
        for name, sc in SCENARIOS.items():
            print(f"{name:<{width}}  {sc.description}")
        return 0
    if a.out_dir is None:
        a.parser.error("OUT_DIR is required (or use --list-scenarios)")
    write_twin(
        a.out_dir, n_stations=a.stations, n_days=a.days, seed=a.seed, start=a.start,
        scenario=a.scenario,
    )  # fmt: skip
    return 0


def _cmd_ingest(a: argparse.Namespace) -> int:
    from smlib.data import ingest

    ingest(
        ismn=a.ismn,
        era5=a.era5,
        merra2=a.merra2,
        fluxnet=a.fluxnet or [],
        out=a.out,
        reference=a.reference,
        min_days=a.min_days,
        on_error=a.on_error,
        sensor_map=a.sensor_map,
    )
    return 0


def _cmd_data(a: argparse.Namespace) -> int:
    from smlib.data.manifest import data_status

    print(data_status(a.data_dir, manifest=a.manifest))
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    from smlib.method.train import train
    from smlib.report.pipeline import choices_for_data

    choice = choices_for_data(a.cube, a.set or [])  # the feature set follows the data
    if choice["feature_set"] == "insitu":
        logging.getLogger("smlib.method.train").info("feature set insitu: %s", choice["reason"])
    train(a.cube, a.out, profile=a.profile, overrides=choice["overrides"], resume=a.resume)
    return 0


def _cmd_correct(a: argparse.Namespace) -> int:
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    if a.format is None and a.workers is None and a.scheduler is None and a.block_stations is None:
        from smlib.method.correct import correct_file

        correct_file(
            a.cube, model_dir=a.model, out=a.out, methods=methods, fft_product=a.fft_product,
            product=a.product, coefficients=a.coefficients,
        )  # fmt: skip
        return 0
    from smlib.ops.archive import correct_archive  # block-wise, resumable, optionally on dask

    correct_archive(
        a.cube, a.model, a.out, methods=methods, fft_product=a.fft_product,
        fmt=a.format or "netcdf", block_stations=a.block_stations or 25, workers=a.workers,
        scheduler=a.scheduler, coefficients=a.coefficients,
    )  # fmt: skip
    return 0


def _cmd_distill(a: argparse.Namespace) -> int:
    from smlib.ops.distill import distill

    distill(a.run, a.out, cube=a.cube, arch=a.arch, overrides=a.set or [])
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from smlib.ops.export import export_onnx

    export_onnx(a.run, a.out, quantize=a.quantize)
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from smlib.report.evaluate import evaluate

    summary = evaluate(a.corrected, out=a.out, truth=a.truth, model_dir=a.model, cube=a.cube)
    verdict = (summary.get("signal_ablation") or {}).get("verdict")
    if verdict:  # what the network adds to the default product (twin with --truth, --cube)
        print(verdict)
    return 0


def _cmd_book(a: argparse.Namespace) -> int:
    from smlib.report.book import NotebookFailed, build_book

    try:
        build_book(
            profile=a.profile, data=a.data, force=a.force, skip_html=a.no_html,
            overrides=a.set or [],
        )  # fmt: skip
    except NotebookFailed as err:  # one line; -v adds the failing cell's traceback
        logging.getLogger("smlib.report.book").error("%s", err if a.verbose else err.summary())
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``smlib`` command."""
    p = argparse.ArgumentParser(
        prog="smlib",
        description="Diurnal soil-moisture correction: twin, ingest, train, correct, evaluate, book.",
    )
    p.add_argument("--version", action="version", version=f"smlib {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write the embedded synthetic twin in the real file formats")
    s.add_argument("out_dir", nargs="?", default=None)
    s.add_argument("--stations", type=int, default=None, help="number of ISMN stations")
    s.add_argument("--days", type=int, default=None, help="number of days simulated")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--start", default=None, help="first day, YYYY-MM-DD")
    s.add_argument("--scenario", default="default", choices=_ScenarioNames(), metavar="NAME",
                   help="world of the twin family (see --list-scenarios; default: the embedded twin)")  # fmt: skip
    s.add_argument("--list-scenarios", action="store_true",
                   help="print every scenario's name and description, then exit")  # fmt: skip
    s.set_defaults(func=_cmd_synth, parser=s)

    s = sub.add_parser("ingest", help="read real-format archives into the harmonised station cube")
    s.add_argument(
        "--ismn", default=None,
        help="ISMN download: extracted folder or zip (at least one of --ismn, --fluxnet)",
    )  # fmt: skip
    s.add_argument("--era5", default=None, help="ERA5-Land NetCDF file or folder")
    s.add_argument("--merra2", default=None, help="MERRA-2 M2T1NXLND NetCDF file or folder")
    s.add_argument(
        "--fluxnet",
        action="append",
        default=None,
        help="FLUXNET2015/AmeriFlux/ICOS folder (repeatable; without --ismn: a tower-only cube)",
    )
    s.add_argument(
        "--reference",
        default=None,
        help="text file of NETWORK/STATION ids to use as references (default: by sensor physics)",
    )
    s.add_argument(
        "--min-days",
        type=int,
        default=92,
        help="minimum number of complete local days with SM and TS (paper: 92)",
    )
    s.add_argument(
        "--on-error",
        default="skip",
        choices=["skip", "raise"],
        help="a damaged file or impossible values: leave the station out and count it in the "
        "QC table (skip, default) or stop (raise)",
    )
    s.add_argument(
        "--sensor-map",
        default=None,
        metavar="FILE",
        help="YAML of instrument names or stations -> technique, read before smlib's table",
    )
    s.add_argument("--out", required=True, help="output cube (NetCDF)")
    s.set_defaults(func=_cmd_ingest)

    s = sub.add_parser(
        "data", help="validate data_manifest.yml and show which datasets are present"
    )
    s.add_argument("data_dir", nargs="?", default=None)
    s.add_argument("--manifest", default=None)
    s.set_defaults(func=_cmd_data)

    s = sub.add_parser("train", help="train the stacked LSTM with the Physics Constraint Layer")
    s.add_argument("cube")
    s.add_argument("--out", required=True, help="run directory")
    s.add_argument(
        "--profile", default="recommended",
        choices=["recommended", "recommended_full", "quick", "paper"],
        help="recommended (default): the method chosen on the cross-scenario skill benchmark, "
        "quick budget; recommended_full: the same at the paper's budget; quick / paper: the "
        "paper's method at the quick / the paper's budget (smlib.config)",
    )  # fmt: skip
    s.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a configuration key (strict)"
    )
    s.add_argument("--resume", action="store_true", help="continue an interrupted run")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("correct", help="apply a trained model and/or the Fourier baseline")
    s.add_argument("cube")
    s.add_argument("--model", default=None, help="run directory of a trained model")
    s.add_argument("--out", required=True)
    s.add_argument(
        "--methods", default="lstm,fft",
        help="comma-separated: lstm, fft (Fourier baseline), lin (per-probe linear "
        "compensation), chanzy (per-probe slope from the night window, Chanzy et al. 2012)",
    )  # fmt: skip
    s.add_argument(
        "--product", default=None, choices=["flagged", "paper"],
        help="flagged: a series usable as a whole with a per-hour flag variable; paper: each "
        "method's own values, NaN where it has none (default: the model run's correct.product)",
    )  # fmt: skip
    s.add_argument(
        "--coefficients", default=None, metavar="FILE",
        help="apply a stored station table of the default product (the <out>.coefficients.json "
        "an earlier smlib correct wrote) instead of fitting it; stations not in it stay raw",
    )  # fmt: skip
    s.add_argument(
        "--fft-product",
        default="mean",
        choices=["era5", "merra2", "mean"],
        help="reanalysis whose diurnal shape the Fourier baseline adopts",
    )
    arch = s.add_argument_group(
        "archive run (any of these: station blocks written one by one, resumable)"
    )
    arch.add_argument(
        "--format", default=None, choices=["netcdf", "zarr", "ismn"],
        help="output: one NetCDF file, a zarr store or an ISMN Header+values tree",
    )  # fmt: skip
    arch.add_argument("--block-stations", type=int, default=None, help="stations per block (25)")
    where = arch.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, default=None, help="a dask LocalCluster of N worker processes"
    )
    where.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="an existing dask.distributed scheduler, e.g. tcp://host:8786",
    )  # fmt: skip
    s.set_defaults(func=_cmd_correct)

    s = sub.add_parser(
        "distill", help="train a small operational student on a trained run's corrections"
    )
    s.add_argument("run", help="teacher run directory")
    s.add_argument("--out", required=True, help="run directory of the student")
    s.add_argument("--cube", default=None, help="station cube (default: the teacher's)")
    s.add_argument(
        "--arch", default="gru_student", help="student architecture (gru_student, tcn_student)"
    )
    s.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a student configuration key"
    )
    s.set_defaults(func=_cmd_distill)

    s = sub.add_parser("export", help="export a trained run to ONNX (onnxruntime inference)")
    s.add_argument("run", help="run directory (teacher or student)")
    s.add_argument("--format", default="onnx", choices=["onnx"])
    s.add_argument("--out", required=True, help="output .onnx file")
    s.add_argument(
        "--quantize", default=None, choices=["int8"], help="int8 dynamic quantization of weights"
    )
    s.set_defaults(func=_cmd_export)

    s = sub.add_parser("evaluate", help="metrics, figures and summary.json of a corrected file")
    s.add_argument("corrected")
    s.add_argument("--truth", default=None, help="truth.nc of the synthetic twin")
    s.add_argument("--model", default=None, help="run directory (for the lag sensitivity)")
    s.add_argument("--cube", default=None, help="station cube (for the lag sensitivity)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("book", help="run every notebook with papermill and build the HTML book")
    s.add_argument("--profile", default="quick", choices=["quick", "paper"])
    s.add_argument("--data", default=None, help="data folder (default: the embedded twin)")
    s.add_argument("--force", action="store_true", help="re-run notebooks even if up to date")
    s.add_argument("--no-html", action="store_true", help="execute notebooks only")
    s.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a notebook parameter of the params file (min_days=30) or a training "
        "configuration key (preprocess.feature_set=insitu); repeatable",
    )
    s.set_defaults(func=_cmd_book)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smlib`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (OSError, ValueError, KeyError, RuntimeError) as err:  # bad input: one clear line
        # (the traceback only with -v; KeyError's str() adds quotes, so use its argument)
        text = err.args[0] if isinstance(err, KeyError) and err.args else err
        if isinstance(err, OSError) and err.filename:  # a NetCDF file opened by xarray itself
            from smlib.errors import damaged_netcdf

            text = damaged_netcdf(err.filename, err) or text
        logging.getLogger("smlib").error(
            "%s", " ".join(str(text).split()) or type(err).__name__, exc_info=args.verbose
        )
        return 2
    except KeyboardInterrupt:
        logging.getLogger("smlib").error("interrupted")
        return 130
    except Exception as err:  # a bug, not bad input: still one line unless -v
        logging.getLogger("smlib").error(
            "internal error %s: %s (run with -v for the traceback and please report it)",
            type(err).__name__,
            " ".join(str(err).split()),
            exc_info=args.verbose,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
