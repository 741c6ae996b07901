"""Typed run configuration: profiles ``paper`` and ``quick``, strict overrides, YAML round trip.

A run is fully described by one :class:`RunConfig`, a tree of frozen dataclasses. Four profiles
are defined, two methods times two budgets:

``paper``
    The hyper-parameters of Seo et al. (2026), section 3.1: 3 x 256 LSTM, dropout 0.1 after
    layers 1 and 2, dense 128-64, Adam 6e-4, batch 32, early stopping with patience 30, 70/30
    split, the paper's rain screening and R(SM, TS) < -0.34 training filter.
``quick``
    A smaller *budget* for the same method so that the whole book builds on 2 CPU cores:
    narrower LSTM layers, a larger batch with a correspondingly larger learning rate, a cap on
    the number of samples drawn per epoch and fewer epochs. :func:`differences` lists every
    key in which it departs from ``paper``; the list is dumped with every run.
``recommended`` (the default of ``smlib train`` and of the book) and ``recommended_full``
    The recommended *method* (:data:`RECOMMENDED_METHOD`: the guided artefact compensation as
    the corrected product, its artefact a distributed lag of TS up to 6 h, 12 h in situ, short
    gaps filled)
    with the ``quick`` and the ``paper`` budgets. It
    was chosen on the cross-scenario skill benchmark (``python -m benchmarks --only skill``),
    never on one world. The other options measured there (``preprocess.rain_screen=strict``,
    ``preprocess.lookahead_h``, ``preprocess.min_ts_range_k``) lowered or did not change the
    network's skill on the worlds tried and are not part of it.

Skill, measured (``python -m benchmarks --only skill``; 24 twin worlds of 24 stations x 240
days -- twelve scenarios and an in-situ-only variant of each -- quick budget, CPU): every
method's median HF correlation with the true SM on rain-free days, as a share of each world's
noise ceiling, the misses included, is in ``benchmarks/README.md``. On the book's default twin
(40 stations x 365 days) ``quick`` trains in about 12 s on two quiet cores and ``paper`` in
about 5 minutes.

Overrides are ``section.key=value`` strings (``--set train.batch_size=64`` on the command
line). Values are parsed as YAML scalars / lists and checked against the field's type;
unknown keys raise :class:`KeyError` naming the valid ones.

Examples
--------
>>> cfg = get_profile("quick", ["train.max_epochs=3"])
>>> cfg.train.max_epochs
3
>>> ("train.batch_size", 32, 128) in differences(get_profile("quick"))
True
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smlib.atomic import atomic_write_text

__all__ = [
    "PreprocessConfig",
    "ModelConfig",
    "TrainConfig",
    "FourierConfig",
    "CorrectConfig",
    "RunConfig",
    "PROFILES",
    "get_profile",
    "apply_overrides",
    "differences",
    "config_to_dict",
    "config_from_dict",
    "dump_config",
    "load_config",
]


@dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing (paper section 3.1.1).

    Attributes
    ----------
    rain_screen : {"paper", "strict", "none"}
        ``paper``: in-situ days whose daily SM tendency exceeds ``insitu_tendency_sd`` standard
        deviations mask the in-situ series, reanalysis days with more than ``precip_mm_per_day``
        mask that product's series. ``strict``: the union of all screens (plus an in-situ gauge
        ``precip`` where the cube has one) masks every variable, widened by ``widen_days``.
    insitu_tendency_sd : float
        Threshold of the in-situ screen, in standard deviations of the daily tendency.
    precip_mm_per_day : float
        Threshold of the reanalysis (and gauge) screen, mm per local day.
    widen_days : int
        ``strict`` only: days masked on each side of a rainy day.
    screen_at_inference : bool
        Apply the rain screen when correcting too (default: correct every hour with inputs).
    lf_window_h : int
        Length of the moving average defining the low-frequency part, hours.
    lf_centering : {"centred", "symmetric", "trailing"}
        ``centred``: mean of ``x[t-12 .. t+11]`` (``pandas.rolling(24, center=True)``);
        ``symmetric``: the 2x24 average, half weights at ``t-12`` and ``t+12``;
        ``trailing``: causal mean of ``x[t-23 .. t]`` (no latency in streaming use).
    r_threshold : float
        Training filter: keep target local days with R(SM, TS) below this value.
    feature_set : str
        Name in :data:`smlib.method.preprocess.FEATURE_SETS` (``paper14``, ``insitu``, ...).
    drop_features : tuple of str
        Features removed from the set (ablations).
    window_h : int
        Input sequence length, hours (``t-17 .. t`` for 18).
    lookahead_h : int
        Hours of context *after* the target hour: the window of target ``t`` spans
        ``t-window_h+1+lookahead_h .. t+lookahead_h``. 0 is the paper's causal window (needed
        for real-time use); a centred context (e.g. 9) suits archive correction, where the
        hours after ``t`` exist and the centred LF already looks 11 h ahead.
    max_gap_h : int
        Gaps of at most this many hours in any input series (bounded by finite values on both
        sides) are filled by linear interpolation before the decomposition, so that one missing
        hour does not cost the ~40 hours of output that depend on it. 0 (the paper) fills
        nothing. Rain-screened days are never filled (they are longer).
    min_ts_range_k : float
        Training filter: keep only days whose in-situ TS diurnal range (max - min of the local
        day) is at least this many K. On overcast days R(SM, TS) is dominated by noise and the
        artefact cannot be told from the signal. 0 (the paper) keeps every day.
    lf_hold_h : int
        When correcting (never in training): an hour with SM whose LF window reaches past the
        end of its SM run takes the LF of the nearest hour of the run that has one, up to this
        many hours away, along its slope (:func:`smlib.method.preprocess.hold_lf`). 0 (the
        paper): such hours get no network value; 12 (``recommended``): every hour of a run of
        a day or more gets one (benchmarks/README.md); gappy records (towers, outages) lose
        their runs' first and last 12 h otherwise. Streaming waits ``2 * lf_hold_h`` longer.
    """

    rain_screen: str = "paper"
    insitu_tendency_sd: float = 0.5
    precip_mm_per_day: float = 0.1
    widen_days: int = 1
    screen_at_inference: bool = False
    lf_window_h: int = 24
    lf_centering: str = "centred"
    r_threshold: float = -0.34
    feature_set: str = "paper14"
    drop_features: tuple[str, ...] = ()
    window_h: int = 18
    lookahead_h: int = 0
    max_gap_h: int = 0
    min_ts_range_k: float = 0.0
    lf_hold_h: int = 0


@dataclass(frozen=True)
class CorrectConfig:
    r"""What ``smlib correct`` writes for each method (the per-hour flags of docs/architecture.md).

    Attributes
    ----------
    product : {"flagged", "paper"}
        ``flagged`` (default): the series a user can take as a whole; every hour says in the
        method's ``<var>_flag`` variable what it holds. ``paper``: the network's value
        wherever it has inputs (rain included), NaN elsewhere, as in the paper.
    mode : {"guided", "network"}
        How the ``flagged`` LSTM product is made. ``guided`` (default): per station, the raw
        HF is regressed on the soil-temperature terms (TS HF and its tendency) *together with*
        the network's HF and the reanalysis SM HF as estimates of the true diurnal signal,
        over the station's rain-free hours; the fitted temperature terms -- the artefact -- are
        removed from the raw series at every hour with TS, so rain steps and all measured
        signal stay (:func:`smlib.method.correct.guided_compensation`). ``network``: the network's
        value on rain-free hours with inputs, ``rain_rule`` elsewhere.
    rain_screen : {"strict", "paper"}
        Screen deciding which hours are rain-affected at correction time
        (:func:`smlib.method.screens.rain_flags`).
    rain_rule : {"artefact", "raw"}
        ``artefact``: remove only the temperature-coherent artefact,
        :math:`b_1 T_{HF} + b_2\,\partial_t T_{HF}`, with coefficients fitted per station on
        the hours the network corrected (regression of raw minus corrected HF on the TS HF and
        its tendency, which absorbs a thermal lag of the sensing element); the rain step itself
        stays as measured. ``raw``: leave such hours raw.
    min_rule_hours : int
        Fewest network-corrected hours a station needs for its rule to be fitted; below it the
        station's remaining hours stay raw (flagged so).
    smoothing_days : int
        ``guided``: half-width (days) of the running diurnal composite of the signal
        estimates in the fit (:func:`smlib.method.correct.guided_compensation`).
    artefact_lags_h : int
        ``guided``: the artefact model. 0 (the dataclass default, and the paper's profiles):
        :math:`b_1 T_{HF} + b_2\,\partial_t T_{HF}`. ``K`` > 0: a distributed lag
        :math:`\sum_{k \le K'} w_k T_{HF}(t - k)` with the window :math:`K' \le K` chosen per
        station by cross-validation and the weights fitted by ridge least squares
        (:func:`smlib.method.lagged_artefact.distributed_lag_compensation`); it spans a sensing
        element that sees TS hours late, which the tendency term does not (issue 18). The
        ``recommended`` profiles use 6, chosen on the skill benchmark (benchmarks/README.md:
        24 twin worlds, the same networks; median rain-free HF R 0.87 -> 0.89 of the noise
        ceiling, better in 14 worlds, worse in 4 by at most 0.03 -- the book's default world
        among them, -0.01 -- and +0.07 where the element sees TS 1-3 h late). The station
        table holds the lag weights (``ProductCoefficients.terms``) for every path.
    network_anchor : {"select", "select_nights", "select_nights_slope", \
"select_nights_kernel", "none"}
        ``guided``, at stations where the network is the only signal estimate (no
        reanalysis): ``select`` (default) keeps per station the free fit or the fit anchored
        on the network (its HF taken as the signal), whichever leaves the more negative
        correlation of the rain-free mean diurnal cycles of SM and TS
        (:func:`smlib.method.network_anchor.select_network_anchor`): the free fit cannot tell
        a network that is itself a function of TS from the artefact, and can undo what the
        network corrected. ``select_nights`` (as ``select`` with lags 0): the nights-alone
        fit (the product without the network) is a third candidate under the same rule, so a
        network that misleads the fit at a station is left out there (``signals_used: []``
        in its coefficients). ``select_nights_slope``: one slope per probe
        from the nights alone (lag 0, as the ``chanzy`` baseline) is a fourth, kept only
        where its correlation is lower by more than 0.05
        (:data:`smlib.method.night_candidates.NIGHT_SLOPE_MARGIN`); by the same margin it
        also replaces the fit guided by the reanalysis and the nights alone where no
        estimate is left. ``select_nights_kernel`` (``recommended``): as
        ``select_nights_slope``, and the element kernel of the nights alone (a transport
        delay and a first-order response of the sensing element, one gain per probe:
        :mod:`smlib.method.night_candidates`) replaces the kept fit, where the network is the
        only estimate or none is left, where it finds a delay, unless the kept fit's
        correlation is lower by more than 0.10
        (:data:`smlib.method.night_candidates.KERNEL_MARGIN`). ``none``: the free fit
        everywhere. Measured in benchmarks/README.md.
    element_kernel_lags_h : int
        With ``select_nights_kernel``: the lags the element kernel's weights span, and so the
        station table's width, where longer than ``artefact_lags_h``; a kernel cut at 6 h
        loses the tail of a slow element. The free fits take it too where no estimate but
        the network guides them (in situ: the nights carry the fit), and keep
        ``artefact_lags_h`` where a reanalysis or a tower's evaporation does. 0 (the dataclass
        default, as run folders written before it): ``artefact_lags_h``. ``recommended``: 12,
        measured against 6 and 18 on the skill benchmark (benchmarks/README.md).
    night_weight : float
        ``guided`` with ``artefact_lags_h`` > 0: weight (relative to one fitted hour) of the
        *night equations* in the artefact fit where the reanalysis is among the signal
        estimates (:mod:`smlib.method.night_window`, after Chanzy et al. 2012): within each
        rain-free night of ``night_window_h`` the true SM is taken as a straight line
        (no evaporation; slow drainage), so what the probe does beyond it is the temperature
        artefact -- equations that need no estimate of the true SM. 0 (the dataclass default,
        and the paper's profiles): none. ``recommended``: 10. Like ``night_weight_network_only``
        and ``tower_water_balance`` it applies to the distributed-lag artefact only (with
        ``artefact_lags_h=0`` the tendency fit ignores it).
    night_weight_network_only : float
        The same where the network is the station's only estimate (an in-situ-only build): the
        network's series is a function of the probe's own TS, so the nights carry the fit.
        Where no estimate is left, the nights alone fit the artefact (whenever either weight
        is > 0). ``recommended``: 600. Both were chosen on the skill benchmark
        (benchmarks/README.md, "Issue 18: the night equations").
    night_window_h : tuple of int
        (first hour, length) of the night window, hours of local solar time
        (``round(lon / 15)`` h from UTC); (20, 10) is 20:00 to 05:00. A night enters with all
        but two of its hours usable (at least 3). Shorten it where evaporation goes on after
        dusk.
    night_dark_only : bool
        Keep only the hours of the night window when the sun is below the horizon at the
        station (its latitude and the date; :func:`smlib.method.night_window.dark_hours`): a
        fixed window holds daylight where summer nights are short (high latitudes), and a
        night left with too few dark hours drops out rather than bring the morning's
        evaporation into the equations. False (the dataclass default, as run folders
        written before it): the whole window.
    night_errors_in_variables : bool
        Correct the nights' single slope (``network_anchor=select_nights_slope``) for the
        thermistor's own noise (:func:`smlib.method.night_window.thermistor_noise_var`): within
        a night TS varies little, and a 0.1 K noise attenuates the least-squares slope by
        var(T) / (var(T) + noise). Fits with lags are not corrected (a smooth night's lagged TS
        are nearly collinear). False (the dataclass default, as run folders written before
        it): no correction. ``recommended``: true; measured on the skill benchmark
        (benchmarks/README.md).
    night_gain_errors_in_variables : bool
        Correct the gain of every artefact fit that takes the night equations, lags and day
        equations included, for the thermistor's noise along the fitted shape only (one
        scalar: the least-squares weights divided by the estimated reliability of the fitted
        artefact regressor; :meth:`smlib.method.night_window.NightEquations.shape_noise`).
        Unlike the noise taken off each lag's diagonal it cannot let nearly collinear lags
        run away. The artefact is removed with the measured TS, so the weights are then
        multiplied by the reliability of the fitted artefact over the hours where it is
        removed (the best linear predictor; within a percent of 1 where TS varies by kelvins).
        False (the dataclass default, as run folders written before it): no correction.
        ``recommended``: true; measured on the skill benchmark (benchmarks/README.md).
    tower_water_balance : bool
        ``guided`` with ``artefact_lags_h`` > 0: at stations with a latent heat flux (flux
        towers) the cumulative evaporation enters the fit as one more estimate of the true
        diurnal drying (:mod:`smlib.method.water_balance`); it is not a function of the probe's
        TS, as an in-situ network's series is. ``recommended``: true. Chosen on the towers of
        the skill benchmark (benchmarks/README.md, "Issue 18, item 4").
    tower_lag_cv_tolerance : float
        With ``tower_water_balance``: the towers' lag window is the shortest whose
        cross-validated error is within this fraction of the best
        (:func:`smlib.method.lagged_artefact.distributed_lag_fit`); 0 (the dataclass default):
        the best. A tower's true diurnal cycle is small beside its artefact, and lags that CV
        barely prefers let the artefact take up part of it. ``recommended``: 0.03, chosen on
        the towers of the skill benchmark (benchmarks/README.md).
    tower_wetness_gain : bool
        With ``tower_water_balance``: at the towers the product's fitted artefact is scaled by
        :math:`1 + \\rho (L(t) - \\bar L)`, a gain that follows the soil's wetness (the raw SM's
        trailing 24-h mean), with :math:`\\rho` from a fit guided by the tower's evaporation
        alone (:mod:`smlib.method.wetness_gain`). False (the dataclass default, as run folders
        written before it): one gain for all seasons. ``recommended``: true, chosen on the
        towers of the skill benchmark (benchmarks/README.md).
    network_night_purge : bool
        With ``artefact_lags_h`` > 0: the network's series guides the fit less the share of the
        product's fitted artefact that its nights carry (it was trained on the measured SM,
        artefact and all; :mod:`smlib.method.network_purge`): the product is fitted, the
        share found, and the product fitted again. False (the dataclass default, as run
        folders written before it): the series as the network gives it. ``recommended``:
        true, chosen on the skill benchmark (benchmarks/README.md).
    """

    product: str = "flagged"
    mode: str = "guided"
    rain_screen: str = "strict"
    rain_rule: str = "artefact"
    min_rule_hours: int = 240
    smoothing_days: int = 0
    artefact_lags_h: int = 0
    network_anchor: str = "select"
    element_kernel_lags_h: int = 0
    night_weight: float = 0.0
    night_weight_network_only: float = 0.0
    night_window_h: tuple[int, int] = (20, 10)
    night_dark_only: bool = False
    night_errors_in_variables: bool = False
    night_gain_errors_in_variables: bool = False
    tower_water_balance: bool = False
    tower_lag_cv_tolerance: float = 0.0
    tower_wetness_gain: bool = False
    network_night_purge: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Network (paper section 3.1.2); ``name`` is a key of :data:`smlib.method.model.MODELS`."""

    name: str = "stacked_lstm"
    hidden_size: int = 256
    num_layers: int = 3
    dropout: float = 0.1
    dense: tuple[int, ...] = (128, 64)
    physics_constraint: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data split.

    Attributes
    ----------
    split : {"time", "station"}
        ``time``: each station's record is cut into blocks of ``split_block_days`` days, a
        ``val_fraction`` of the blocks (drawn with ``seed``) validates; a window is used only if
        all its hours lie in blocks of one split, i.e. a gap of ``window_h - 1`` hours separates
        the splits. ``station``: whole stations validate.
    max_samples_per_epoch, max_val_samples : int or None
        Random subset of the training windows drawn afresh each epoch / fixed validation subset.
    device : {"auto", "cpu", "cuda"}
        ``auto`` uses CUDA when available.
    num_threads : int or None
        ``torch.set_num_threads`` for CPU runs (None: torch's default).
    precision : {"fp32", "bf16"}
        ``fp32`` (the paper). ``bf16`` runs the LSTM and dense layers of the training forward
        pass under ``torch.autocast(dtype=torch.bfloat16)`` -- an opt-in speed-up on CPUs with
        AVX512-BF16/AMX and on recent GPUs (measured on the paper architecture at batch 32 in
        ``benchmarks/``); the Physics Constraint Layer, the loss and the weights stay fp32.
        Results differ from fp32 runs within bfloat16 rounding.
    target : {"measured", "product"}
        What the network learns. ``measured`` (the paper, every profile): the HF of the measured
        SM on the local days with R(SM, TS) < ``preprocess.r_threshold``. ``product``
        (self-training, opt-in: ``--set train.target=product``): two stages. The stage-1
        network is trained on the measured target (a complete run in ``<out>/stage1``); the
        run's corrected product (``correct.*``) is made with it on the training cube; the final
        network is trained afresh on the HF of that product at every rain-free hour whose
        artefact the product removed (flags 0-2), the R(SM, TS) filter off, since the target no
        longer carries the artefact the filter was there to avoid. Pooled over the stations, the
        network then learns the true diurnal cycle from its inputs and averages out each
        station's fitting error; the final product is refitted with it
        (:mod:`smlib.method.self_training`). Stage 2 draws every rain-free day and costs more
        than stage 1. Not in a profile yet: measured on the 24 benchmark worlds it takes the
        network alone from a median 0.59 to 0.89 of the noise ceiling and leaves the product's
        median at 0.918 (better in 9 worlds, worse in 2; benchmarks/README.md, "self-training").
    """

    lr: float = 6e-4
    batch_size: int = 32
    max_epochs: int = 500
    patience: int = 30
    val_fraction: float = 0.3
    split: str = "time"
    split_block_days: int = 14
    max_samples_per_epoch: int | None = None
    max_val_samples: int | None = None
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    eval_batch_size: int = 4096
    precision: str = "fp32"
    target: str = "measured"


@dataclass(frozen=True)
class FourierConfig:
    """Fourier baseline (Han, Seo and Dirmeyer 2026) as read in :mod:`smlib.method.fourier`."""

    product: str = "mean"
    window_days: int = 10
    n_harmonics: int = 4
    night_hours: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class RunConfig:
    """Complete configuration of one training / correction run."""

    profile: str = "paper"
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    fourier: FourierConfig = field(default_factory=FourierConfig)
    correct: CorrectConfig = field(default_factory=CorrectConfig)


def _paper() -> RunConfig:
    return RunConfig(profile="paper", correct=CorrectConfig(product="paper"))


def _quick() -> RunConfig:
    base = _paper()
    return dataclasses.replace(
        base,
        profile="quick",
        model=dataclasses.replace(base.model, hidden_size=64),
        train=dataclasses.replace(
            base.train,
            lr=1e-3,
            batch_size=128,
            max_epochs=60,
            patience=12,
            max_samples_per_epoch=16_384,
            max_val_samples=16_384,
        ),
    )


#: Method keys in which ``recommended`` departs from the paper (chosen on the cross-scenario
#: skill benchmark, ``python -m benchmarks --only skill``; see ``benchmarks/README.md``).
RECOMMENDED_METHOD: dict[str, dict[str, Any]] = {
    "correct": {
        "product": "flagged",
        "mode": "guided",
        "artefact_lags_h": 6,
        "element_kernel_lags_h": 12,
        "night_weight": 10.0,
        "night_weight_network_only": 600.0,
        "tower_water_balance": True,
        "tower_lag_cv_tolerance": 0.03,
        "tower_wetness_gain": True,
        "network_night_purge": True,
        "network_anchor": "select_nights_kernel",
        "night_errors_in_variables": True,
        "night_gain_errors_in_variables": True,
    },
    "preprocess": {"max_gap_h": 3, "lf_hold_h": 12},
}


def _recommend(base: RunConfig, profile: str) -> RunConfig:
    sections = {
        name: dataclasses.replace(getattr(base, name), **keys)
        for name, keys in RECOMMENDED_METHOD.items()
    }
    return dataclasses.replace(base, profile=profile, **sections)


def _recommended() -> RunConfig:
    return _recommend(_quick(), "recommended")


def _recommended_full() -> RunConfig:
    return _recommend(_paper(), "recommended_full")


#: Profile name -> factory of its :class:`RunConfig`.
PROFILES: dict[str, typing.Callable[[], RunConfig]] = {
    "paper": _paper,
    "quick": _quick,
    "recommended": _recommended,
    "recommended_full": _recommended_full,
}


def get_profile(name: str = "quick", overrides: Iterable[str] = ()) -> RunConfig:
    """Return the configuration of profile ``name`` with ``overrides`` applied.

    Raises
    ------
    KeyError
        Unknown profile or override key.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return apply_overrides(PROFILES[name](), overrides)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against type hint ``tp``; convert lists to tuples and ints to floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"{key}: {value!r} matches none of {tp}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"{key}: expected a list, got {value!r}")
        (inner, _ellipsis) = typing.get_args(tp)
        return tuple(_coerce(v, inner, key) for v in value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            raise TypeError(f"{key}: expected a number, got {value!r}") from None
    if tp is bool and not isinstance(value, bool):
        raise TypeError(f"{key}: expected true/false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{key}: expected an integer, got {value!r}")
    if tp in (float, str) and not isinstance(value, tp):
        raise TypeError(f"{key}: expected {tp.__name__}, got {value!r}")
    return value


def _set(cfg: Any, path: list[str], value: Any, full_key: str) -> Any:
    types_ = _field_types(type(cfg))
    name = path[0]
    if name not in types_:
        valid = ", ".join(sorted(types_))
        raise KeyError(f"unknown configuration key {full_key!r} (valid here: {valid})")
    current = getattr(cfg, name)
    if dataclasses.is_dataclass(current):
        if len(path) == 1:
            raise KeyError(f"{full_key!r} is a section; set one of its keys")
        return dataclasses.replace(cfg, **{name: _set(current, path[1:], value, full_key)})
    if len(path) > 1:
        raise KeyError(f"unknown configuration key {full_key!r}: {name!r} is not a section")
    return dataclasses.replace(cfg, **{name: _coerce(value, types_[name], full_key)})


def apply_overrides(cfg: RunConfig, overrides: Iterable[str]) -> RunConfig:
    """Apply ``section.key=value`` strings (values parsed as YAML) to ``cfg``.

    Raises
    ------
    KeyError
        A key that does not exist.
    TypeError
        A value of the wrong type.
    ValueError
        A string without ``=``.
    """
    for item in overrides:
        key, sep, raw = str(item).partition("=")
        if not sep:
            raise ValueError(f"override {item!r} must look like section.key=value")
        value = yaml.safe_load(raw) if raw.strip() else None
        cfg = _set(cfg, key.strip().split("."), value, key.strip())
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    """Raise :class:`ValueError` for values outside their allowed set or range."""
    p, t = cfg.preprocess, cfg.train
    choices = {
        "preprocess.rain_screen": (p.rain_screen, {"paper", "strict", "none"}),
        "preprocess.lf_centering": (p.lf_centering, {"centred", "symmetric", "trailing"}),
        "train.split": (t.split, {"time", "station"}),
        "train.device": (t.device, {"auto", "cpu", "cuda"}),
        "train.precision": (t.precision, {"fp32", "bf16"}),
        "train.target": (t.target, {"measured", "product"}),
        "fourier.product": (cfg.fourier.product, {"era5", "merra2", "mean"}),
        "correct.product": (cfg.correct.product, {"flagged", "paper"}),
        "correct.rain_screen": (cfg.correct.rain_screen, {"strict", "paper"}),
        "correct.rain_rule": (cfg.correct.rain_rule, {"artefact", "raw"}),
        "correct.mode": (cfg.correct.mode, {"guided", "network"}),
        "correct.network_anchor": (
            cfg.correct.network_anchor,
            {"select", "select_nights", "select_nights_slope", "select_nights_kernel", "none"},
        ),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"{key}={value!r}; allowed: {sorted(allowed)}")
    if not 0.0 < t.val_fraction < 1.0:
        raise ValueError(f"train.val_fraction={t.val_fraction} must lie in (0, 1)")
    if p.window_h < 1 or p.lf_window_h < 2:
        raise ValueError("preprocess.window_h must be >= 1 and lf_window_h >= 2")
    if not 0 <= p.lookahead_h < p.window_h:
        raise ValueError("preprocess.lookahead_h must lie in 0 .. window_h - 1")
    if p.max_gap_h < 0 or p.min_ts_range_k < 0 or p.lf_hold_h < 0:
        raise ValueError("preprocess.max_gap_h, min_ts_range_k and lf_hold_h must be >= 0")
    c = cfg.correct
    for key in ("artefact_lags_h", "element_kernel_lags_h"):
        if not 0 <= getattr(c, key) <= 24:
            raise ValueError(f"correct.{key}={getattr(c, key)} must lie in 0 .. 24")
    if c.night_weight < 0 or c.night_weight_network_only < 0:
        raise ValueError("correct.night_weight and night_weight_network_only must be >= 0")
    if not 0 <= c.tower_lag_cv_tolerance <= 1:
        raise ValueError(f"correct.tower_lag_cv_tolerance={c.tower_lag_cv_tolerance}: need 0-1")
    window = tuple(c.night_window_h)
    if len(window) != 2 or not (0 <= window[0] < 24 and 1 <= window[1] < 24):
        raise ValueError(
            f"correct.night_window_h={list(c.night_window_h)}: need [first hour 0-23, length 1-23]"
        )
    if t.batch_size < 1 or t.max_epochs < 1 or t.patience < 1:
        raise ValueError("train.batch_size, max_epochs and patience must be positive")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples as lists) of a configuration dataclass."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            out[f.name] = config_to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = list(v)
        else:
            out[f.name] = v
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, key + "."))
        else:
            flat[key] = v
    return flat


def config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Inverse of :func:`config_to_dict`; strict (unknown keys raise :class:`KeyError`)."""
    cfg = RunConfig()
    for key, value in _flatten(d).items():
        if key.startswith("differences_from_paper"):
            continue
        cfg = _set(cfg, key.split("."), value, key)
    validate(cfg)
    return cfg


def differences(cfg: RunConfig, reference: RunConfig | None = None) -> list[tuple[str, Any, Any]]:
    """Every key where ``cfg`` departs from ``reference`` (default: the ``paper`` profile).

    Returns
    -------
    list of (key, reference value, value)
        ``profile`` itself is not listed.
    """
    ref = _flatten(config_to_dict(reference or _paper()))
    mine = _flatten(config_to_dict(cfg))
    return [(k, ref[k], v) for k, v in mine.items() if k != "profile" and ref.get(k) != v]


def dump_config(cfg: RunConfig, path: str | Path | None = None) -> str:
    """YAML text of ``cfg`` (with its differences from ``paper``); written atomically if ``path``."""
    data = config_to_dict(cfg)
    data["differences_from_paper"] = {
        k: {"paper": a, "this run": b} for k, a, b in differences(cfg)
    }
    text = yaml.safe_dump(data, sort_keys=False)
    if path is not None:
        atomic_write_text(Path(path), text)
    return text


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML file written by :func:`dump_config` (strict keys)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a configuration mapping")
    try:
        return config_from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise type(err)(f"{path}: {err}") from err
