"""The ``smlib`` command.

Every sub-command is a thin shell over a typed library function, so anything the command
line does can be done from Python or a notebook with the same result::

    smlib synth OUT_DIR [--stations N] [--days N] [--seed N]
    smlib ingest --ismn PATH [--era5 PATH] [--merra2 PATH] [--fluxnet PATH]... --out cube.nc
    smlib data [DATA_DIR] [--manifest FILE]
    smlib train cube.nc --out runs/NAME [--profile quick|paper] [--set key=value]... [--resume]
    smlib correct cube.nc --model runs/NAME --out corrected.nc [--methods lstm,fft]
    smlib evaluate corrected.nc [--truth truth.nc] [--model runs/NAME] --out reports/NAME
    smlib book [--profile quick|paper] [--data DIR] [--force]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from smlib import __version__


def _cmd_synth(a: argparse.Namespace) -> int:
    from smlib.synth import write_twin

    write_twin(a.out_dir, n_stations=a.stations, n_days=a.days, seed=a.seed, start=a.start)
    return 0


def _cmd_ingest(a: argparse.Namespace) -> int:
    from smlib.cube import ingest

    ingest(
        ismn=a.ismn,
        era5=a.era5,
        merra2=a.merra2,
        fluxnet=a.fluxnet or [],
        out=a.out,
        reference=a.reference,
        min_days=a.min_days,
    )
    return 0


def _cmd_data(a: argparse.Namespace) -> int:
    from smlib.manifest import data_status

    print(data_status(a.data_dir, manifest=a.manifest))
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    from smlib.train import train

    train(a.cube, a.out, profile=a.profile, overrides=a.set or [], resume=a.resume)
    return 0


def _cmd_correct(a: argparse.Namespace) -> int:
    from smlib.correct import correct_file

    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    correct_file(a.cube, model_dir=a.model, out=a.out, methods=methods, fft_product=a.fft_product)
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from smlib.evaluate import evaluate

    evaluate(a.corrected, out=a.out, truth=a.truth, model_dir=a.model, cube=a.cube)
    return 0


def _cmd_book(a: argparse.Namespace) -> int:
    from smlib.book import NotebookFailed, build_book

    try:
        build_book(profile=a.profile, data=a.data, force=a.force, skip_html=a.no_html)
    except NotebookFailed as err:  # the failing cell's traceback, without the runner's own
        logging.getLogger("smlib.book").error("%s", err)
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
    s.add_argument("out_dir")
    s.add_argument("--stations", type=int, default=None, help="number of ISMN stations")
    s.add_argument("--days", type=int, default=None, help="number of days simulated")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--start", default=None, help="first day, YYYY-MM-DD")
    s.set_defaults(func=_cmd_synth)

    s = sub.add_parser("ingest", help="read real-format archives into the harmonised station cube")
    s.add_argument("--ismn", required=True, help="ISMN download: extracted folder or zip")
    s.add_argument("--era5", default=None, help="ERA5-Land NetCDF file or folder")
    s.add_argument("--merra2", default=None, help="MERRA-2 M2T1NXLND NetCDF file or folder")
    s.add_argument(
        "--fluxnet",
        action="append",
        default=None,
        help="FLUXNET2015/AmeriFlux/ICOS folder (repeatable)",
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
    s.add_argument("--profile", default="quick", choices=["quick", "paper"])
    s.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a configuration key (strict)"
    )
    s.add_argument("--resume", action="store_true", help="continue an interrupted run")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("correct", help="apply a trained model and/or the Fourier baseline")
    s.add_argument("cube")
    s.add_argument("--model", default=None, help="run directory of a trained model")
    s.add_argument("--out", required=True)
    s.add_argument("--methods", default="lstm,fft")
    s.add_argument(
        "--fft-product",
        default="mean",
        choices=["era5", "merra2", "mean"],
        help="reanalysis whose diurnal shape the Fourier baseline adopts",
    )
    s.set_defaults(func=_cmd_correct)

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
    except (FileNotFoundError, ValueError, KeyError) as err:  # user errors: one clear line
        logging.getLogger("smlib").error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
