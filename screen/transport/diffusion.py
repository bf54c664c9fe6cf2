"""From MD trajectories to tracer diffusivity, activation energy and conductivity.

- Tracer diffusivity D(T) of the working ion and its standard error: pymatgen-analysis-
  diffusion's ``DiffusionAnalyzer`` (framework-drift corrected MSD, "max" smoothing,
  weighted least-squares slope of MSD(t) = 6 D t).
  The slope's regression error ignores that MSD points are correlated and is far too small
  (1e-5 relative where repeated runs scatter by 5%); the reported error is the larger of it
  and the empirical statistical error of He, Zhu, Epstein & Mo, npj Comput. Mater. 4, 18
  (2018): sigma_D / D = 3.43 / sqrt(N_hops) + 0.04, N_hops the effective number of hops.
- Trust checks per temperature, never a conductivity from a run that fails them:
  ``md-too-few-hops`` (effective hops N_ion x MSD / d_hop^2 below ``min_hops``; d_hop the
  shortest working-ion - working-ion distance), ``md-framework-mobile`` (drift-corrected
  RMS displacement of the least mobile framework species above
  ``max_framework_rms_angstrom``: melting, amorphisation or decomposition; ligands of
  rotating polyanions alone do not count), ``md-failed`` (the run stopped).
- Arrhenius: weighted least squares of ln D against 1/T (weights 1/sigma_lnD^2,
  sigma_lnD = sigma_D / D) with the parameter covariance, so both Ea and the extrapolated
  ln D(300 K) carry propagated standard errors. With equal weights the fit equals
  ``pymatgen.analysis.diffusion.analyzer.fit_arrhenius`` (a test checks it).
- Nernst-Einstein: sigma = n z^2 e^2 D / (k_B T), n the working-ion number density, z its
  charge (2 for Mg2+ and Zn2+), Haven ratio 1 (tracer = charge diffusivity assumed).

Units: D in cm^2/s, sigma in mS/cm, energies in eV, temperatures in K.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from screen.transport.md import MDTrajectory

K_B_EV = 8.617333262e-5  # eV/K
E_CHARGE = 1.602176634e-19  # C
K_B = 1.380649e-23  # J/K


@dataclass(frozen=True)
class DiffusionAtTemperature:
    """One temperature's tracer diffusivity and whether it can be trusted."""

    temperature_K: float
    diffusivity_cm2_s: float
    diffusivity_std_cm2_s: float
    effective_hops: float
    framework_rms_angstrom: float
    duration_ps: float
    flags: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        """True when no flag forbids using this temperature."""
        return not self.flags

    def as_dict(self) -> dict[str, float | str]:
        """Plain values for the record's provenance."""
        return {
            "temperature_K": self.temperature_K,
            "diffusivity_cm2_s": self.diffusivity_cm2_s,
            "diffusivity_std_cm2_s": self.diffusivity_std_cm2_s,
            "effective_hops": self.effective_hops,
            "framework_rms_angstrom": self.framework_rms_angstrom,
            "duration_ps": self.duration_ps,
            "flags": ",".join(self.flags),
        }


@dataclass(frozen=True)
class TrustCriteria:
    """When a temperature's diffusivity is measured well enough to use."""

    min_hops: float = 20.0
    max_framework_rms_angstrom: float = 1.0


def hop_distance(trajectory: MDTrajectory, working_ion: str) -> float:
    """Shortest distance (Å) between two working ions in the first frame (periodic)."""
    from pymatgen.core import Lattice

    ions = [k for k, s in enumerate(trajectory.symbols) if s == working_ion]
    if len(ions) < 2:
        return 2.5  # a single ion: a typical cation-site separation
    lattice = Lattice(trajectory.cell)
    frac = lattice.get_fractional_coords(trajectory.positions[0][ions])
    d = lattice.get_all_distances(frac, frac)
    np.fill_diagonal(d, np.inf)
    return float(d.min())


def tracer_diffusion(
    trajectory: MDTrajectory, working_ion: str, criteria: TrustCriteria | None = None
) -> DiffusionAtTemperature:
    """D(T) of ``working_ion`` with its standard error and trust flags."""
    criteria = criteria or TrustCriteria()
    flags: list[str] = []
    if trajectory.error:
        flags.append("md-failed")
    ions = np.array([s == working_ion for s in trajectory.symbols])
    if len(trajectory.positions) < 3 or not ions.any():
        return DiffusionAtTemperature(
            trajectory.temperature_K, math.nan, math.nan, 0.0, math.nan,
            trajectory.duration_ps, (*flags, "md-too-short"),
        )  # fmt: skip
    disp = trajectory.positions - trajectory.positions[0]  # (frames, n, 3)
    framework = ~ions
    drift = disp[:, framework].mean(axis=1, keepdims=True) if framework.any() else 0.0
    corrected = disp - drift
    msd_final = float((corrected[-1, ions] ** 2).sum(axis=-1).mean())
    hops = ions.sum() * msd_final / hop_distance(trajectory, working_ion) ** 2
    framework_rms = _framework_rms(trajectory.symbols, corrected[-1], framework)
    if framework_rms > criteria.max_framework_rms_angstrom:
        flags.append("md-framework-mobile")
    if hops < criteria.min_hops:
        flags.append("md-too-few-hops")
    try:
        d, d_std = _analyzer_diffusivity(trajectory, working_ion, disp)
    except ValueError:  # "Not enough data": shorter than the 1 ps the fit starts from
        d, d_std = math.nan, math.nan
        flags.append("md-too-short")
    if hops > 0 and math.isfinite(d):
        d_std = max(d_std, d * (3.43 / math.sqrt(hops) + 0.04))
    return DiffusionAtTemperature(
        temperature_K=trajectory.temperature_K,
        diffusivity_cm2_s=d,
        diffusivity_std_cm2_s=d_std,
        effective_hops=float(hops),
        framework_rms_angstrom=framework_rms,
        duration_ps=trajectory.duration_ps,
        flags=tuple(flags),
    )


def _framework_rms(symbols: list[str], displacement: np.ndarray, framework: np.ndarray) -> float:
    """RMS displacement (Å) of the least mobile framework species.

    The least mobile one: rotating polyanions (PS4, BH4) move their ligands by 2-3 Å
    without the crystal melting, while melting or decomposition moves every species.
    """
    names = np.array(symbols)
    values = [
        float(np.sqrt((displacement[framework & (names == s)] ** 2).sum(axis=-1).mean()))
        for s in sorted(set(names[framework].tolist()))
    ]
    return min(values) if values else 0.0


def _analyzer_diffusivity(
    trajectory: MDTrajectory, working_ion: str, disp: np.ndarray
) -> tuple[float, float]:
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    structure = Structure(
        Lattice(trajectory.cell), trajectory.symbols, trajectory.positions[0],
        coords_are_cartesian=True,
    )  # fmt: skip
    analyzer = DiffusionAnalyzer(
        structure,
        np.ascontiguousarray(disp.transpose(1, 0, 2)),  # (sites, frames, 3)
        working_ion,
        trajectory.temperature_K,
        trajectory.sample_interval_fs,  # type: ignore[arg-type]  # fs between frames; floats work
        1,
        smoothed="max",  # MSD fitted from 1 ps on, every frame a time origin
        # observations per time lag >= min_obs; pymatgen's 30 suits big cells, a small cell
        # would get no lag past the 1 ps the fit starts from: two per ion there
        min_obs=min(30, 2 * sum(s == working_ion for s in trajectory.symbols)),
    )
    return float(analyzer.diffusivity), float(analyzer.diffusivity_std_dev)


@dataclass(frozen=True)
class ArrheniusFit:
    """ln D = ln D0 - Ea / (k_B T), fitted with weights; covariance of (Ea, ln D0)."""

    activation_energy_eV: float
    activation_energy_std_eV: float
    ln_prefactor: float  # ln(D0 / (cm^2/s))
    covariance: tuple[tuple[float, float], tuple[float, float]]  # of (Ea, ln D0)
    temperatures_K: tuple[float, ...] = field(default=())

    def diffusivity(self, temperature_K: float) -> tuple[float, float]:
        """Extrapolated D (cm^2/s) and the standard error of ln D at ``temperature_K``."""
        g = np.array([-1.0 / (K_B_EV * temperature_K), 1.0])  # d lnD / d(Ea, lnD0)
        ln_d = self.ln_prefactor - self.activation_energy_eV / (K_B_EV * temperature_K)
        var = float(g @ np.array(self.covariance) @ g)
        return math.exp(ln_d), math.sqrt(max(var, 0.0))


def fit_arrhenius(
    temperatures_K: Sequence[float],
    diffusivities: Sequence[float],
    diffusivity_std: Sequence[float] | None = None,
) -> ArrheniusFit:
    """Weighted Arrhenius fit; needs at least two temperatures (three for an error)."""
    t = np.asarray(temperatures_K, dtype=float)
    d = np.asarray(diffusivities, dtype=float)
    if len(t) < 2 or np.any(d <= 0) or len(set(t.tolist())) < 2:
        raise ValueError(
            f"an Arrhenius fit needs >= 2 distinct temperatures with D > 0, got T={t.tolist()} "
            f"D={d.tolist()}"
        )
    x = -1.0 / (K_B_EV * t)  # ln D = Ea * x + ln D0
    y = np.log(d)
    if diffusivity_std is None:
        w = np.ones_like(y)
    else:
        sigma_ln = np.maximum(np.asarray(diffusivity_std, dtype=float) / d, 1e-6)
        w = 1.0 / sigma_ln**2
    a = np.stack([x, np.ones_like(x)], axis=1)
    aw = a * w[:, None]
    normal = a.T @ aw
    params = np.linalg.solve(normal, aw.T @ y)
    n = len(t)
    residual = y - a @ params
    if n > 2:
        # scale by the reduced chi-square: errors from the scatter when it exceeds the bars
        chi2 = float((w * residual**2).sum()) / (n - 2)
        if diffusivity_std is None:
            cov = np.linalg.inv(normal) * chi2
        else:
            cov = np.linalg.inv(normal) * max(chi2, 1.0)
    elif diffusivity_std is not None:
        cov = np.linalg.inv(normal)
    else:
        cov = np.full((2, 2), np.nan)
    ea, ln_d0 = float(params[0]), float(params[1])
    return ArrheniusFit(
        activation_energy_eV=ea,
        activation_energy_std_eV=math.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0]) else math.nan,
        ln_prefactor=ln_d0,
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        temperatures_K=tuple(float(v) for v in t),
    )


def nernst_einstein_conductivity(
    diffusivity_cm2_s: float, ions_per_cell: int, volume_angstrom3: float, charge: int,
    temperature_K: float,
) -> float:  # fmt: skip
    """Nernst-Einstein conductivity (mS/cm): n z^2 e^2 D / (k_B T), Haven ratio 1."""
    n_per_m3 = ions_per_cell / (volume_angstrom3 * 1e-30)
    d_m2_s = diffusivity_cm2_s * 1e-4
    sigma_s_per_m = n_per_m3 * (charge * E_CHARGE) ** 2 * d_m2_s / (K_B * temperature_K)
    return sigma_s_per_m * 10.0  # S/m -> mS/cm: x 1000 / 100
