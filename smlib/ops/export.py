"""Export a trained (or distilled) run to ONNX for inference without PyTorch.

The ONNX graph is the network of the run exactly as :func:`smlib.method.correct.predict_hf` calls it,
Physics Constraint Layer included:

==========  ==========================  =====================================================
name        shape, dtype                meaning
==========  ==========================  =====================================================
``x``       [batch, window_h, feature]  min-max scaled features of hours ``t-window_h+1..t``
            float32                     (feature order: metadata ``features``)
``lf``      [batch] float32             SM LF at hour ``t``, m3 m-3 (unscaled)
``hf_norm`` [batch] float32             normalised SM HF at ``t`` (output)
==========  ==========================  =====================================================

Everything else a user needs to go from a station's hourly files to corrected SM is in the
model's metadata (``metadata_props``, strings; lists and mappings as JSON):

``features``, ``x_min``, ``x_max``
    Scaling :math:`x' = (x - x_\\min) / (x_\\max - x_\\min)` per feature.
``y_min``, ``y_max``
    :math:`\\mathrm{HF} = \\hat y\\,(y_\\max - y_\\min) + y_\\min` (m3 m-3); corrected
    :math:`\\mathrm{SM} = \\max(\\mathrm{LF} + \\mathrm{HF}, 0)`.
``window_h``, ``lf_window_h``, ``lf_centering``, ``preprocess``
    Window length, the moving average that defines LF (see :mod:`smlib.method.preprocess`), and the
    whole preprocessing configuration.
``model``, ``run``, ``smlib_version``, ``quantization``, ``inputs``
    Provenance.

``examples/correct_station_onnx.py`` corrects one station from its ISMN files with numpy and
onnxruntime alone, reading all of the above from the model file. The network gives the
``paper`` series; the default product (the series the book evaluates) is the measured SM minus
the station's fitted temperature artefact, and needs the station table that ``smlib correct``
stores beside its output (``<out>.coefficients.json``, :mod:`smlib.method.product`) instead of
the network: the example's ``--coefficients`` applies it.

Quantization
    ``quantize="int8"`` applies onnxruntime's dynamic quantization (int8 weights of the
    matrix products and recurrent layers, activations quantized on the fly). It changes the
    output by about 1e-4 of the normalised range; ``benchmarks/bench_operational.py``
    measures what that does to skill before anyone relies on it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch

from smlib import __version__
from smlib.atomic import atomic_path
from smlib.config import config_to_dict
from smlib.method.runfolder import LoadedModel, load_model

__all__ = ["OPSET", "onnx_metadata", "export_onnx"]

log = logging.getLogger(__name__)

#: ONNX opset of the exported graphs.
OPSET = 17


def onnx_metadata(lm: LoadedModel, quantization: str | None = None) -> dict[str, str]:
    """The ``metadata_props`` written with a model (see the module docstring)."""
    pc = lm.config.preprocess
    sc = lm.scaler
    return {
        "smlib_version": __version__,
        "run": str(Path(lm.run_dir).resolve()),
        "model": json.dumps(config_to_dict(lm.config.model)),
        "features": json.dumps(list(sc.features)),
        "x_min": json.dumps([float(v) for v in sc.x_min]),
        "x_max": json.dumps([float(v) for v in sc.x_max]),
        "y_min": repr(float(sc.y_min)),
        "y_max": repr(float(sc.y_max)),
        "window_h": str(pc.window_h),
        "lf_window_h": str(pc.lf_window_h),
        "lf_centering": pc.lf_centering,
        "preprocess": json.dumps(config_to_dict(pc)),
        "quantization": quantization or "none",
        "inputs": "x [batch, window_h, feature] float32 scaled; lf [batch] float32 m3 m-3",
        "outputs": "hf_norm [batch] float32, normalised SM HF (y_min/y_max)",
    }


def _torch_to_onnx(model: torch.nn.Module, n_features: int, window: int, path: Path) -> None:
    x = torch.zeros(2, window, n_features)
    lf = torch.zeros(2)
    with warnings.catch_warnings():
        # the TorchScript-based exporter (no onnxscript needed) is deprecated in favour of the
        # torch.export one; its GRU/LSTM note concerns initial states we do not export (zeros)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # RNN shape checks, constant
        torch.onnx.export(
            model, (x, lf), str(path),
            input_names=["x", "lf"], output_names=["hf_norm"],
            dynamic_axes={"x": {0: "batch"}, "lf": {0: "batch"}, "hf_norm": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip


def export_onnx(
    run: str | os.PathLike | LoadedModel,
    out_path: str | os.PathLike,
    quantize: str | None = None,
) -> Path:
    """Write a run's network to ONNX, with the scaler and preprocessing in its metadata.

    Parameters
    ----------
    run : path or LoadedModel
        Trained or distilled run directory.
    out_path : path
        ``.onnx`` file (written atomically).
    quantize : {None, "int8"}
        ``int8``: onnxruntime dynamic quantization of the weights.

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    ImportError
        ``onnx`` / ``onnxruntime`` missing (extra ``operational``).
    ValueError
        Unknown ``quantize``.
    """
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize={quantize!r}; use None or 'int8'")
    try:
        import onnx
    except ImportError as err:
        raise ImportError("ONNX export needs onnx: pip install 'smlib[operational]'") from err
    lm = run if isinstance(run, LoadedModel) else load_model(run, device="cpu")
    model = lm.model.to("cpu").eval()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".onnx-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        _torch_to_onnx(model, len(lm.scaler.features), lm.config.preprocess.window_h, fp32)
        src = fp32
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            src = Path(tmp) / "model.int8.onnx"
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # onnxruntime logs generic hints on the root logger
            try:
                quantize_dynamic(fp32, src, weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
        proto = onnx.load(str(src))
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, onnx_metadata(lm, quantize))
        proto.producer_name = "smlib"
        proto.producer_version = __version__
        proto.doc_string = (
            f"smlib {lm.config.model.name} from {lm.run_dir}: scaled 18-h windows -> normalised "
            "SM HF (Physics Constraint Layer included); see the metadata"
        )
        onnx.checker.check_model(proto)
        with atomic_path(out_path) as dst:
            onnx.save(proto, str(dst))
    log.info("wrote %s (%s%s)", out_path, lm.config.model.name, ", int8" if quantize else "")
    return out_path
