"""Twin scenarios: a documented family of worlds that differ in what matters to the correction.

The correction method learns the high-frequency (HF) part of the in-situ SM on days with
R(SM, TS) < -0.34 from the HF / LF parts of the in-situ SM and TS and of the reanalysis SM,
TS and LH; the Fourier baseline copies the reanalysis diurnal shape. Its skill therefore
depends on the rain regime (how many rain-free days there are, and when in the day it
rains), the soil (how large and how late the true diurnal SM cycle is), the sensor physics
(how large the artefact is, whether it follows TS in phase, its sign, how it varies with
wetness, how many units are weakly affected), the reanalysis (whether its diurnal cycles have
the right phase and amplitude, whether there is one at all) and the network (how many
stations, how much noise, how many gaps). Each
:class:`Scenario` sets every one of these knobs; ``default`` is the embedded twin, byte for
byte.

====================== ================================================ ====================================================
name                   what differs                                     why it matters to the method
====================== ================================================ ====================================================
``default``            the embedded twin: four mid-latitude regions,    the world the method was developed on
                       afternoon convection, loams, Maxwell-Wagner
                       artefact in phase with TS, regional reanalysis
                       phase errors
``arid``               storms 4x rarer, +4 K, 1.4x diurnal range, loamy few rain days, but a tiny true diurnal SM cycle
                       sand, 85 % bare soil                             under a large artefact (dry soil amplifies it):
                                                                        almost no day passes R < -0.34
``monsoon``            semi-arid; rain concentrated in a late-summer    a rain-free dry season against a wet season whose
                       monsoon, heavy isolated cells, 35 % of the       night storms fall inside the 18-h windows and the
                       storms at night; sandy loam                      24-h LF of the morning
``temperate_maritime`` frequent light frontal rain at any hour, small   few rain-free days; a small TS amplitude, so the
                       diurnal range, silt loam under grass             artefact is weak against noise and rain steps
``humid_irrigated``    humid; clay loam; sprinkler irrigation at dawn   water that no gauge or reanalysis sees: SM steps on
                       on 60 % of the sites (FAO-56 depletion rule)     'rain-free' days, a reanalysis LF that is too dry
``sensor_lag``         clay; the sensing element lags the soil by       the artefact peaks 1-4 h after TS and grows when
                       1.5-4 h; the artefact grows with wetness; wide   wet: more days pass R < -0.34, and their SM minimum
                       unit-to-unit spread (log-sd 0.5)                 is late (the issue-11 failure mode)
``delayed_element``    the sensing element sees TS 1-3 h late (a pure    the artefact has TS's non-sinusoidal diurnal shape,
                       delay of the land model's TS); otherwise the     shifted by hours: not in the span of TS and its
                       default world                                    tendency (issue 18, world C)
``mixed_sign``         3 in 10 dielectric probes read lower when warm   a station's artefact may correlate positively with
                       (negative temperature coefficient); otherwise    TS: the R(SM, TS) < -0.34 filter and any prior on
                       the default world                                the sign see the wrong thing (issue 18, world D)
``dry_gain``           the artefact gain grows 6-8x from a saturated    one constant coefficient per station is wrong for
                       to a dry sensor layer (k_dry 5-7); storms at     most of the season: small when wet, large in the
                       0.6x the default rate, so the soil dries down    dry-downs
``poor_reanalysis``    diurnal cycles damped (x0.25-0.6 SM, x0.4-0.7    the inputs and the Fourier baseline carry a wrong
                       TS) and late (1-5 h SM, 1-3.5 h TS), wet and     diurnal shape and amplitude; reanalysis rain falls
                       cold biases, storms on the wrong day             on the wrong days
``sparse_noisy``       half the stations over twice the area, 3x noise, less training data, noisier targets, and gaps that
                       an outage every 20 days (7-day mean), 0.5 %      cut the 30-h input windows: fewer corrected hours
                       spikes, 2 % dropouts
``gappy_towers``       the default world; in the tower files 2 % of the real FLUXNET / AmeriFlux records: a reader that needs
                       half-hours of SWC, TS and LE missing at random,  both half-hours of an hour, and the complete-day
                       and the soil sensors of 2 in 5 towers logged     rule, leave scattered tower hours, too few for the
                       hourly (-9999 at every :30)                      24-h LF and 18-h windows (issue 18)
====================== ================================================ ====================================================

In-situ-only variants: every world above also exists without reanalysis, as
``<name>_insitu`` (the same twin, seed for seed, but no ``era5land/`` and no ``merra2/`` are
written, so the correction has only the station's own SM and TS): ``default_insitu``,
``arid_insitu``, ``monsoon_insitu``, ``temperate_maritime_insitu``, ``humid_irrigated_insitu``,
``sensor_lag_insitu``, ``delayed_element_insitu``, ``mixed_sign_insitu``, ``dry_gain_insitu``,
``poor_reanalysis_insitu``, ``sparse_noisy_insitu``, ``gappy_towers_insitu``. Real networks without a reanalysis at
hand, or users who do not want one (issue 18), are what they stand for.

Sources of the parameter values (what each group of knobs rests on):

* Soil hydraulic classes: porosity, water content at -33 kPa (field capacity) and at
  -1500 kPa (wilting point) are the class means of Rawls, Brakensiek & Saxton (1982), Trans.
  ASAE 25:1316, Table 2; clay and sand fractions are typical values inside each class of the
  USDA texture triangle. Drainage rate constants follow the order of the saturated
  conductivities in the same table (sand >> loam >> clay); their magnitudes are model choices.
* Temperature artefact: the default coefficients are the embedded twin's
  (:data:`~smlib.synth.sensors.BETA0_MEDIAN`); the temperature response of dielectric probes is
  soil- and unit-specific (Seyfried & Murdock 2004, SSSAJ 68:394, for an impedance probe;
  Rosenbaum et al. 2011, VZJ 10:582, for individual ECH2O units, whose correction had to be
  fitted sensor by sensor), which the per-unit log-normal spread represents; a linear
  per-probe compensation fitted on rain-free days is the practice of Cobos & Campbell (2007,
  Decagon application note "Correcting temperature sensitivity of ECH2O sensors"). A
  wetness-growing artefact follows the electrical conductivity of the pore water (about
  +2 % K-1, Hayashi 2004, Environ. Monit. Assess. 96:119), which low-frequency probes see more
  the wetter the soil. The thermal lag range is an assumption sized by heat conduction: the
  diurnal wave is delayed by :math:`\\Delta z/d` radians over a depth offset :math:`\\Delta z`,
  with damping depth :math:`d = \\sqrt{2\\kappa/\\omega} \\approx 0.1` m for a thermal
  diffusivity of 0.4-0.6 mm2 s-1 (Campbell & Norman 1998, An Introduction to Environmental
  Biophysics, ch. 8), i.e. about 1 h per 3 cm between the thermistor and the centre of the
  sensing volume. Lags of 1.5-4 h are therefore at the upper end (TS logged several cm away
  from the sensing volume, or a probe body with its own heat capacity): ``sensor_lag`` is a
  stress test, not a typical installation. The pure delay of ``delayed_element`` (1-3 h) rests
  on the same sizing (3-9 cm between thermistor and sensing volume) without the damping of a
  first-order element; it keeps the land model's TS shape, a fast morning rise and a slow
  evening decay, which is what makes it hard for a TS + tendency fit (issue 18: the plain fit
  reached HF R 0.48 on such a world where one delayed-TS regressor reached 0.90).
* Sign of the artefact: laboratory tests of commercial capacitance probes report water
  content decreasing with temperature for some models and increasing for others (MethodsX
  2024, doi:10.1016/j.mex.2024.103100); ``mixed_sign``'s 3 in 10 is an assumption of that
  order, not a measured share.
* Dry-growing gain: the Maxwell-Wagner (bound-water) part of the response is largest in dry
  soil (Seyfried & Murdock 2004; Wraith & Or 1999, Water Resour. Res. 35:361, on the
  competing bound-water and free-water effects); the gain of ``dry_gain`` at the residual
  water content is :math:`1 + k_d` = 6-8 times that at saturation, an assumption sized to the
  issue's "up to about 8x", not a fitted value. Over a 120-day summer a station's sensor
  layer spans saturations of about 0.15-0.9, so its gain changes 3-4x in the season.
* Rain timing: afternoon to early-night maxima of convective rain over land, and nocturnal
  maxima where organised systems propagate (Dai 2001, J. Climate 14:1112). Frequencies,
  depths and shares are scenario assumptions, not fitted to a station record.
* Irrigation: the FAO-56 scheduling rule (irrigate when the root-zone depletion exceeds the
  readily available water, a fraction ``p`` of the total available water; Allen et al. 1998,
  FAO Irrigation and Drainage Paper 56, ch. 8); the sprinkler rate and the start hour are
  assumptions.
* Reanalysis diurnal errors: the embedded twin's ranges are kept for ``default``; the
  ``poor_reanalysis`` ranges (damped and delayed cycles, biases, storms too early and on the
  wrong day; parameterised convection rains too early in the day, Dai 2006, J. Climate
  19:4605) are assumptions chosen to be clearly worse, not measured values.
* Noise and gaps: assumptions, scaled from the embedded twin's. The tower gaps of
  ``gappy_towers`` are assumptions of the order seen in AmeriFlux BASE files (the US-CRT
  sample of ``shared/realdata`` lacks 56 of its 96 LE half-hours) and in sites whose soil
  loggers record hourly; they are not fitted to a network.
* In-situ-only variants: no value to rest on; they remove an input, nothing else.

Use :func:`get_scenario` (a clear ``KeyError`` listing the names) or :data:`SCENARIOS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from smlib.synth.forcing import RainClimate
from smlib.synth.reanalysis import ERA5_LAND, MERRA2, ProductSpec
from smlib.synth.sensors import BETA0_MEDIAN, WEAK_BETA0, SensorPhysics
from smlib.synth.world import REGIONS, Region

__all__ = [
    "SoilTexture",
    "SOIL_TEXTURES",
    "Scenario",
    "SCENARIOS",
    "DEFAULT_SCENARIO",
    "INSITU_SUFFIX",
    "base_scenarios",
    "insitu_variant",
    "get_scenario",
]


@dataclass(frozen=True)
class SoilTexture:
    """Hydraulic class of a soil (Rawls, Brakensiek & Saxton 1982, Table 2 class means).

    Attributes
    ----------
    porosity, theta_fc, theta_wp : float
        Total porosity, water content at -33 kPa and at -1500 kPa, m3 m-3.
    clay, sand : float
        Typical clay and sand fractions of the class, % weight.
    k_drain1, k_drain2 : float
        Drainage rate constants of the sensor layer and the root zone, h-1 (model choices,
        ordered like the classes' saturated conductivities).
    """

    porosity: float
    theta_fc: float
    theta_wp: float
    clay: float
    sand: float
    k_drain1: float
    k_drain2: float


SOIL_TEXTURES: dict[str, SoilTexture] = {
    "loamy_sand": SoilTexture(0.437, 0.125, 0.055, 6.0, 82.0, 0.6, 0.04),
    "sandy_loam": SoilTexture(0.453, 0.207, 0.095, 10.0, 65.0, 0.45, 0.03),
    "loam": SoilTexture(0.463, 0.270, 0.117, 20.0, 42.0, 0.3, 0.02),
    "silt_loam": SoilTexture(0.501, 0.330, 0.133, 15.0, 20.0, 0.25, 0.015),
    "clay_loam": SoilTexture(0.464, 0.318, 0.197, 34.0, 32.0, 0.15, 0.01),
    "clay": SoilTexture(0.475, 0.396, 0.272, 55.0, 20.0, 0.08, 0.005),
}
"""Soil classes a scenario may impose on every region (``None`` keeps the regional soils)."""

Range = tuple[float, float]


@dataclass(frozen=True)
class Scenario:
    """One world of the twin family: every knob with its unit; the defaults are the embedded twin.

    Attributes
    ----------
    name : str
        Identifier (``smlib synth --scenario NAME``).
    description : str
        One line for ``smlib synth --list-scenarios``.
    koeppen : str or None
        Koeppen-Geiger class written to the static-variable files (None: the regions' own).
    t_mean_shift_k : float
        Shift of every region's annual mean air temperature, K.
    dtr_scale : float
        Factor on the clear-sky diurnal range of air temperature (-).
    rain_prob_scale, rain_season_scale : float
        Factors on the base daily storm probability :math:`p_0` and its seasonal amplitude
        :math:`p_1` (-); the probability stays clipped to 0.02-0.6.
    rain_peak_doy : float or None
        Day of year of the rain-season peak (None: the regions' own).
    rain_depth_scale : float
        Factor on the mean regional storm depth (-).
    rain_onset_h, rain_onset_sd_h : float
        Mean (local solar hour) and sd (h) of the storm onset.
    rain_onset_window_h : tuple of float
        Onsets clipped to these local solar hours.
    rain_duration_h : tuple of int
        Shortest and longest storm, h.
    nocturnal_share : float
        Share of storms that start at night (-).
    nocturnal_onset_h : float
        Mean onset of the nocturnal storms, local solar hour.
    station_hit_prob : float
        Probability that a station gets a regional storm (-).
    soil_texture : str or None
        A key of :data:`SOIL_TEXTURES` imposed on every region (None: regional soils).
    bare_fraction : float or None
        Share of potential evaporation from bare soil in every region (None: regional).
    spread_scale : float
        Factor on the half-width of the square in which a region's stations lie (-): a
        larger value spreads the stations thinner.
    station_share : float
        Share of the requested ISMN stations this world deploys (-); towers follow.
    irrigated_share : float
        Share of stations (and towers) under sprinkler irrigation (-).
    irrigation_depletion : float
        FAO-56 depletion fraction ``p`` that triggers an application (-).
    irrigation_rate_mm_h : float
        Sprinkler application rate, mm h-1.
    irrigation_hour : int
        Local solar hour at which an application starts.
    beta0_impedance, beta0_capacitance, beta0_fdr : float
        Median temperature coefficient per dielectric technique, m3 m-3 K-1.
    beta0_unit_sd : float
        Log-normal sigma of the coefficient from unit to unit (-).
    weak_share : float
        Share of each technique's dielectric units that are only weakly affected (-).
    weak_beta0 : float
        Median coefficient of a weakly affected unit, m3 m-3 K-1.
    k_dry_range, k_wet_range : tuple of float
        Uniform ranges of the dry- and wet-soil amplification of the artefact (-).
    thermal_lag_h : tuple of float
        Uniform range of the sensing element's lag behind the soil temperature, h.
    element_delay_h : tuple of float
        Uniform range of the pure delay of the sensing element's temperature behind the soil
        temperature, h (after the first-order lag; at most 24 h).
    negative_share : float
        Share of the non-reference dielectric units whose temperature coefficient is negative
        (they read lower when warm) (-).
    noise_scale : float
        Factor on the SM and TS probe noise (-).
    outage_interval_d : float
        Mean time between logger outages, days.
    outage_mean_h : float
        Mean outage length, h.
    dropout : float
        Probability of a lone missing SM hour (-).
    spike_prob : float
        Probability of a spike per SM hour (-).
    tower_halfhour_dropout : float
        Probability that a tower half-hour of SWC, of TS and of LE is missing, independently
        (-; :func:`~smlib.synth.towers.tower_gaps`).
    tower_hourly_soil_share : float
        Share of the towers whose soil sensors are logged hourly into the half-hourly file
        (``-9999`` at every ``:30``) (-).
    rea_sm_phase_h, rea_ts_phase_h : tuple of float
        Uniform ranges of the reanalysis SM / TS diurnal delay per region, h (both products).
    rea_sm_amp : tuple of float
        Log-uniform range of the factor on the reanalysis SM diurnal amplitude (-).
    rea_ts_amp : tuple of float
        Uniform range of the factor on the reanalysis TS diurnal amplitude (-).
    rea_sm_bias_shift : float
        Added to both products' mean SM bias, m3 m-3.
    rea_ts_bias_k : float
        Mean TS bias of both products, K.
    rea_onset_sd_add_h : float
        Added to the sd of the products' storm-onset errors, h (a large value moves storms
        to another day).
    rea_miss_add, rea_false_add : float
        Added to the products' probabilities of missing a storm / inventing one (-).
    reanalysis_given : bool
        False: an in-situ-only world; the products are simulated (``truth.nc`` describes them)
        but no ``era5land/`` nor ``merra2/`` is written.
    """

    name: str
    description: str
    # climate and rain
    koeppen: str | None = None
    t_mean_shift_k: float = 0.0
    dtr_scale: float = 1.0
    rain_prob_scale: float = 1.0
    rain_season_scale: float = 1.0
    rain_peak_doy: float | None = None
    rain_depth_scale: float = 1.0
    rain_onset_h: float = 16.5
    rain_onset_sd_h: float = 2.0
    rain_onset_window_h: Range = (12.0, 23.0)
    rain_duration_h: tuple[int, int] = (1, 3)
    nocturnal_share: float = 0.0
    nocturnal_onset_h: float = 2.0
    station_hit_prob: float = 0.8
    # land and network
    soil_texture: str | None = None
    bare_fraction: float | None = None
    spread_scale: float = 1.0
    station_share: float = 1.0
    irrigated_share: float = 0.0
    irrigation_depletion: float = 0.5
    irrigation_rate_mm_h: float = 8.0
    irrigation_hour: int = 6
    # sensors
    beta0_impedance: float = BETA0_MEDIAN["impedance"]
    beta0_capacitance: float = BETA0_MEDIAN["capacitance"]
    beta0_fdr: float = BETA0_MEDIAN["fdr"]
    beta0_unit_sd: float = 0.35
    weak_share: float = 0.2
    weak_beta0: float = WEAK_BETA0
    k_dry_range: Range = (1.0, 2.5)
    k_wet_range: Range = (0.0, 0.0)
    thermal_lag_h: Range = (0.0, 0.0)
    element_delay_h: Range = (0.0, 0.0)
    negative_share: float = 0.0
    noise_scale: float = 1.0
    outage_interval_d: float = 60.0
    outage_mean_h: float = 96.0
    dropout: float = 0.002
    spike_prob: float = 0.001
    tower_halfhour_dropout: float = 0.0
    tower_hourly_soil_share: float = 0.0
    # reanalysis
    rea_sm_phase_h: Range = (-2.0, 3.0)
    rea_sm_amp: Range = (0.5, 1.6)
    rea_ts_phase_h: Range = (-1.5, 1.5)
    rea_ts_amp: Range = (0.7, 1.3)
    rea_sm_bias_shift: float = 0.0
    rea_ts_bias_k: float = 0.0
    rea_onset_sd_add_h: float = 0.0
    rea_miss_add: float = 0.0
    rea_false_add: float = 0.0
    # inputs given to the correction
    reanalysis_given: bool = True

    def __post_init__(self) -> None:
        def fail(what: str) -> None:
            raise ValueError(f"scenario {self.name!r}: {what}")

        for f in ("nocturnal_share", "station_hit_prob", "irrigated_share", "weak_share",
                  "dropout", "spike_prob", "irrigation_depletion", "negative_share",
                  "tower_halfhour_dropout", "tower_hourly_soil_share"):  # fmt: skip
            v = getattr(self, f)
            if not 0.0 <= v <= 1.0:
                fail(f"{f} must lie in [0, 1], got {v}")
        for f in ("dtr_scale", "rain_prob_scale", "rain_depth_scale", "spread_scale",
                  "station_share", "beta0_impedance", "beta0_capacitance", "beta0_fdr",
                  "noise_scale", "outage_interval_d", "outage_mean_h", "irrigation_rate_mm_h"):  # fmt: skip
            v = getattr(self, f)
            if not v > 0:
                fail(f"{f} must be positive, got {v}")
        for f in ("rain_onset_window_h", "rain_duration_h", "k_dry_range", "k_wet_range",
                  "thermal_lag_h", "element_delay_h", "rea_sm_phase_h", "rea_sm_amp",
                  "rea_ts_phase_h", "rea_ts_amp"):  # fmt: skip
            lo, hi = getattr(self, f)
            if lo > hi:
                fail(f"{f} must be (low, high), got {(lo, hi)}")
        if min(*self.k_dry_range, *self.k_wet_range, *self.thermal_lag_h,
               *self.element_delay_h) < 0:  # fmt: skip
            fail("amplification factors, thermal lags and delays must be >= 0")
        if self.element_delay_h[1] > 24:
            fail(f"element_delay_h must be at most 24 h, got {self.element_delay_h}")
        if self.rain_duration_h[0] < 1:
            fail("storms last at least 1 h")
        if self.rea_sm_amp[0] <= 0:
            fail("rea_sm_amp must be positive (log-uniform)")
        if self.soil_texture is not None and self.soil_texture not in SOIL_TEXTURES:
            fail(f"unknown soil_texture {self.soil_texture!r}; known: {sorted(SOIL_TEXTURES)}")
        if not 0 <= self.irrigation_hour <= 23:
            fail(f"irrigation_hour must be 0-23, got {self.irrigation_hour}")

    # ------------------------------------------------------------------ knobs -> modules
    def regions(self, base: tuple[Region, ...] = REGIONS) -> tuple[Region, ...]:
        """The regions with this world's climate, soil and station spread."""
        out = []
        for r in base:
            kw: dict = {
                "t_mean": r.t_mean + self.t_mean_shift_k,
                "dtr": r.dtr * self.dtr_scale,
                "rain_prob": r.rain_prob * self.rain_prob_scale,
                "rain_amp": r.rain_amp * self.rain_season_scale,
                "rain_depth": r.rain_depth * self.rain_depth_scale,
                "spread": r.spread * self.spread_scale,
            }
            if self.rain_peak_doy is not None:
                kw["rain_peak_doy"] = float(self.rain_peak_doy)
            if self.koeppen is not None:
                kw["koeppen"] = self.koeppen
            if self.bare_fraction is not None:
                kw["bare_fraction"] = float(self.bare_fraction)
            if self.soil_texture is not None:
                t = SOIL_TEXTURES[self.soil_texture]
                kw.update(porosity=t.porosity, theta_fc=t.theta_fc, theta_wp=t.theta_wp,
                          clay=t.clay, sand=t.sand)  # fmt: skip
            out.append(dataclasses.replace(r, **kw))
        return tuple(out)

    def land_overrides(self) -> dict[str, float]:
        """Land-parameter overrides of the station columns (drainage of the imposed soil)."""
        if self.soil_texture is None:
            return {}
        t = SOIL_TEXTURES[self.soil_texture]
        return {"k_drain1": t.k_drain1, "k_drain2": t.k_drain2}

    def rain_climate(self) -> RainClimate:
        """Storm timing and locality of this world."""
        return RainClimate(
            onset_h=self.rain_onset_h,
            onset_sd_h=self.rain_onset_sd_h,
            onset_window_h=tuple(self.rain_onset_window_h),
            duration_h=tuple(self.rain_duration_h),
            nocturnal_share=self.nocturnal_share,
            nocturnal_onset_h=self.nocturnal_onset_h,
            station_hit_prob=self.station_hit_prob,
        )

    def sensor_physics(self) -> SensorPhysics:
        """Probe physics of this world."""
        med = dict(BETA0_MEDIAN)
        med.update(impedance=self.beta0_impedance, capacitance=self.beta0_capacitance,
                   fdr=self.beta0_fdr)  # fmt: skip
        return SensorPhysics(
            beta0_median=med,
            unit_sd=self.beta0_unit_sd,
            weak_beta0=self.weak_beta0,
            k_dry=tuple(self.k_dry_range),
            k_wet=tuple(self.k_wet_range),
            lag_h=tuple(self.thermal_lag_h),
            noise_scale=self.noise_scale,
            delay_h=tuple(self.element_delay_h),
            negative_share=self.negative_share,
        )

    def outage_kwargs(self) -> dict[str, float]:
        """Keyword arguments of :func:`~smlib.synth.sensors.outage_mask`."""
        return {"dropout": self.dropout, "interval_days": self.outage_interval_d,
                "mean_length_h": self.outage_mean_h}  # fmt: skip

    def product_specs(self) -> tuple[ProductSpec, ProductSpec]:
        """The ERA5-Land-like and MERRA-2-like products of this world."""
        return self._product(ERA5_LAND), self._product(MERRA2)

    def _product(self, spec: ProductSpec) -> ProductSpec:
        rain = dataclasses.replace(
            spec.rain,
            onset_sd=spec.rain.onset_sd + self.rea_onset_sd_add_h,
            miss_prob=min(1.0, spec.rain.miss_prob + self.rea_miss_add),
            false_prob=min(1.0, spec.rain.false_prob + self.rea_false_add),
        )
        return dataclasses.replace(
            spec,
            rain=rain,
            sm_bias=(spec.sm_bias[0] + self.rea_sm_bias_shift, spec.sm_bias[1]),
            ts_bias_mean=spec.ts_bias_mean + self.rea_ts_bias_k,
            sm_phase_h=tuple(self.rea_sm_phase_h),
            sm_amp=tuple(self.rea_sm_amp),
            ts_phase_h=tuple(self.rea_ts_phase_h),
            ts_amp=tuple(self.rea_ts_amp),
        )

    def n_ismn_stations(self, requested: int) -> int:
        """ISMN stations deployed for ``requested`` (``station_share`` of it, at least 2)."""
        if requested < 2 or self.station_share == 1.0:
            return int(requested)
        return max(2, int(round(requested * self.station_share)))

    def parameters(self) -> dict[str, str | float | int | list[float]]:
        """Every knob as plain values (tuples as lists, None as ``"regional"``)."""
        out: dict[str, str | float | int | list[float]] = {}
        for f in dataclasses.fields(self):
            if f.name in ("name", "description"):
                continue
            v = getattr(self, f.name)
            if v is None:
                out[f.name] = "regional"
            elif isinstance(v, tuple):
                out[f.name] = [float(x) for x in v]
            elif isinstance(v, bool):
                out[f.name] = int(v)
            else:
                out[f.name] = v
        return out


DEFAULT_SCENARIO = Scenario(
    "default",
    "The embedded twin: four mid-latitude regions, afternoon convection, loams, an artefact "
    "in phase with TS, regional reanalysis phase errors.",
)
"""The embedded twin (every knob at its default)."""

_WORLDS: dict[str, Scenario] = {
    s.name: s
    for s in (
        DEFAULT_SCENARIO,
        Scenario(
            "arid",
            "Mid-latitude desert: storms 4x rarer, 4 K warmer, 1.4x diurnal range, loamy sand, "
            "mostly bare soil.",
            koeppen="BWk",
            t_mean_shift_k=4.0,
            dtr_scale=1.4,
            rain_prob_scale=0.25,
            rain_season_scale=0.5,
            soil_texture="loamy_sand",
            bare_fraction=0.85,
        ),
        Scenario(
            "monsoon",
            "Semi-arid with a late-summer monsoon: heavy isolated afternoon storms and a third "
            "of them at night, sandy loam.",
            koeppen="BSh",
            t_mean_shift_k=3.0,
            dtr_scale=1.2,
            rain_prob_scale=0.35,
            rain_season_scale=2.5,
            rain_peak_doy=215.0,
            rain_depth_scale=1.4,
            rain_onset_h=15.5,
            rain_onset_window_h=(11.0, 23.0),
            nocturnal_share=0.35,
            nocturnal_onset_h=1.5,
            station_hit_prob=0.6,
            soil_texture="sandy_loam",
            bare_fraction=0.6,
        ),
        Scenario(
            "temperate_maritime",
            "Oceanic: frequent light frontal rain at any hour, small diurnal range, silt loam "
            "under grass.",
            koeppen="Cfb",
            t_mean_shift_k=-1.0,
            dtr_scale=0.7,
            rain_prob_scale=2.2,
            rain_season_scale=0.3,
            rain_depth_scale=0.3,
            rain_onset_h=12.0,
            rain_onset_sd_h=7.0,
            rain_onset_window_h=(0.0, 23.0),
            rain_duration_h=(2, 8),
            station_hit_prob=0.95,
            soil_texture="silt_loam",
            bare_fraction=0.2,
        ),
        Scenario(
            "humid_irrigated",
            "Humid subtropical plain, clay loam, sprinkler irrigation at dawn on 60 % of the "
            "sites that no gauge or reanalysis sees.",
            koeppen="Cfa",
            t_mean_shift_k=2.0,
            rain_prob_scale=1.3,
            rain_depth_scale=1.2,
            soil_texture="clay_loam",
            bare_fraction=0.25,
            irrigated_share=0.6,
            irrigation_depletion=0.3,
            irrigation_rate_mm_h=8.0,
            irrigation_hour=6,
        ),
        Scenario(
            "sensor_lag",
            "Clay; the sensing element lags the soil by 1.5-4 h and the artefact grows with "
            "wetness; wide unit-to-unit spread.",
            soil_texture="clay",
            beta0_unit_sd=0.5,
            k_dry_range=(0.0, 0.5),
            k_wet_range=(1.0, 3.0),
            thermal_lag_h=(1.5, 4.0),
        ),
        Scenario(
            "delayed_element",
            "The sensing element sees the soil temperature 1-3 h late (a pure delay of the "
            "land model's TS); otherwise the default world.",
            element_delay_h=(1.0, 3.0),
        ),
        Scenario(
            "mixed_sign",
            "3 in 10 dielectric probes read lower when warm (negative temperature "
            "coefficient); otherwise the default world.",
            negative_share=0.3,
        ),
        Scenario(
            "dry_gain",
            "The artefact gain grows 6-8x from a saturated to a dry sensor layer; storms at "
            "0.6x the default rate, so the soil dries down.",
            rain_prob_scale=0.6,
            k_dry_range=(5.0, 7.0),
        ),
        Scenario(
            "poor_reanalysis",
            "Default climate and sensors; reanalysis diurnal cycles damped and 1-5 h late, "
            "wet and cold biases, storms on the wrong day.",
            rea_sm_phase_h=(1.0, 5.0),
            rea_sm_amp=(0.25, 0.6),
            rea_ts_phase_h=(1.0, 3.5),
            rea_ts_amp=(0.4, 0.7),
            rea_sm_bias_shift=0.04,
            rea_ts_bias_k=-1.5,
            rea_onset_sd_add_h=6.0,
            rea_miss_add=0.2,
            rea_false_add=0.1,
        ),
        Scenario(
            "sparse_noisy",
            "Half the stations over twice the area, 3x probe noise, frequent long outages, "
            "spikes and dropouts.",
            spread_scale=2.0,
            station_share=0.5,
            beta0_unit_sd=0.5,
            noise_scale=3.0,
            outage_interval_d=20.0,
            outage_mean_h=168.0,
            dropout=0.02,
            spike_prob=0.005,
        ),
        Scenario(
            "gappy_towers",
            "The default world with the gaps of real tower files: 2 % of the half-hours of "
            "SWC, TS and LE missing, soil sensors of 2 in 5 towers logged hourly.",
            tower_halfhour_dropout=0.02,
            tower_hourly_soil_share=0.4,
        ),
    )
}

INSITU_SUFFIX = "_insitu"
"""Name suffix of a world's in-situ-only variant."""


def insitu_variant(sc: Scenario) -> Scenario:
    """The in-situ-only variant of ``sc``: the same world, no reanalysis written."""
    return dataclasses.replace(
        sc,
        name=sc.name + INSITU_SUFFIX,
        description=sc.description.rstrip(".") + "; in situ only (no reanalysis files).",
        reanalysis_given=False,
    )


SCENARIOS: dict[str, Scenario] = {
    **_WORLDS,
    **{v.name: v for v in map(insitu_variant, _WORLDS.values())},
}
"""The twin family by name (insertion order = documentation order): the worlds, then their
in-situ-only variants."""


def base_scenarios() -> tuple[str, ...]:
    """Names of the worlds that have reanalysis (the in-situ-only variants left out)."""
    return tuple(n for n, s in SCENARIOS.items() if s.reanalysis_given)


def get_scenario(name: str | Scenario) -> Scenario:
    """The scenario called ``name`` (a :class:`Scenario` is returned as is).

    Raises
    ------
    KeyError
        Naming the valid scenarios when ``name`` is not one of them.
    """
    if isinstance(name, Scenario):
        return name
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(
            f"unknown twin scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}"
        ) from None
