"""Charge carriers of the working-ion sublattice: intrinsic, made by charging, or thermal.

A migration barrier says how easily a carrier moves; conduction also needs carriers. In a
superionic conductor they are intrinsic: the mobile-ion sublattice is partially occupied
(disordered), or the framework offers vacant sites equivalent to the occupied ones. In an
ordered, stoichiometric crystal a defect must first be made, and its formation energy
enters the activation energy of conduction (A. B. Lidiard, Handbuch der Physik 20, 246
(1957); J. Maier, Physical Chemistry of Ionic Materials, Wiley 2004, ch. 5):

    intrinsic or extrinsic carriers (concentration fixed):  Ea = Em
    thermally created Frenkel pairs (c ~ exp(-Ef / 2kT)):   Ea = Em + Ef / 2

Sites come from the working ion's BVSE landscape (screen/transport/bvse.py): the local
minima of the site energy (periodic 3x3x3 minimum filter), merged within
``MERGE_ANGSTROM``, split into occupied (a working ion within ``OCCUPIED_ANGSTROM``) and
vacant ones. A vacant site is *equivalent* to the occupied ones when a symmetry operation of
the framework (the structure without its working ions, spglib at ``SYMPREC`` Å) takes an
occupied site onto it, as in an ordered cell of a partially occupied sublattice. That alone
does not make carriers: in zinc blende ZnS and wurtzite ZnO the anion sublattice maps the
filled tetrahedral holes onto the empty ones, yet both are insulators, because putting a
Zn into an empty hole costs eV. (Nor can site energy tell: in spinel MgAl2O4 the empty
octahedral 16c sites lie lower in the framework-only BVSE than the occupied tetrahedral
8a ones.) So equivalence is decided with the potential: the cheapest carrier defect is a
Frenkel pair, one working ion moved from its site to an interstitial position (the
equivalent vacant sites first, then the local minima of the site energy over the grid
points at least ``CLEARANCE_ANGSTROM`` from every working ion, lowest first), in a
supercell, relaxed at fixed cell with the candidate's potential. Ef = E(defect cell) -
n E(relaxed cell), free of chemical potentials and of charge compensation (the pair is
neutral). A pair on an equivalent site with Ef <= ``INTRINSIC_EV`` (4 kT at 300 K) means
the sites are thermally shared: intrinsic carriers. A pair that relaxes back to the perfect
lattice (recombination) gives no energy.

Units: energies eV, distances Å.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.transport.bvse import BVSELandscape

MERGE_ANGSTROM = 0.5  # BVSE minima closer than this are one site
OCCUPIED_ANGSTROM = 0.8  # a minimum with a working ion this close is occupied
CLEARANCE_ANGSTROM = 1.5  # an interstitial site this close to another working ion is unusable
SITE_CAP_EV = 3.0  # minima more than this above the grid minimum are not sites
RECOMBINED_ANGSTROM = 0.8  # relaxed sites this close to the perfect crystal's: recombined
DISTINCT_EV = 0.01  # interstitial positions this close in site energy are taken as equivalent
INTRINSIC_EV = 0.1  # a pair on an equivalent site this cheap: the sites are shared
SYMPREC = 0.1  # Å, spglib tolerance for the framework symmetry

FRENKEL_FORMULA = "Ea = Em + Ef/2 (thermally created Frenkel pairs; Lidiard 1957)"
FIXED_FORMULA = "Ea = Em (carrier concentration fixed, no formation term)"

INTRINSIC_PARTIAL = "intrinsic: partially occupied sublattice"
INTRINSIC_VACANT = "intrinsic: vacant equivalent sites"
BY_CHARGING = "vacancies made by charging"
FRENKEL = "Frenkel pair"


@dataclass(frozen=True)
class BVSESite:
    """One local minimum of the working ion's site energy."""

    frac: tuple[float, float, float]
    energy_eV: float  # above the grid minimum
    occupied: bool
    equivalent: bool  # vacant and symmetry-equivalent (in the framework) to an occupied site
    clear: bool  # at least CLEARANCE_ANGSTROM from every working ion (room for one more)


@dataclass(frozen=True)
class SiteSurvey:
    """The occupied and vacant BVSE sites of the working-ion sublattice."""

    sites: list[BVSESite]
    framework_spacegroup: str

    @property
    def occupied(self) -> list[BVSESite]:
        """Sites holding a working ion."""
        return [s for s in self.sites if s.occupied]

    @property
    def vacant(self) -> list[BVSESite]:
        """Empty sites, lowest site energy first."""
        return [s for s in self.sites if not s.occupied]

    @property
    def equivalent_vacant(self) -> list[BVSESite]:
        """Empty sites symmetry-equivalent (in the framework) to occupied ones."""
        return [s for s in self.sites if s.equivalent]

    def as_dict(self) -> dict[str, Any]:
        """Counts and the lowest vacant site energy, for provenance."""
        vacant = self.vacant
        return {
            "occupied_sites": len(self.occupied),
            "vacant_sites": len(vacant),
            "equivalent_vacant_sites": len(self.equivalent_vacant),
            "lowest_vacant_site_eV": round(vacant[0].energy_eV, 4) if vacant else None,
            "framework_spacegroup": self.framework_spacegroup,
        }


def _minima(
    relative: np.ndarray, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Grid local minima (periodic) at most SITE_CAP_EV up, lowest first: (frac, energies)."""
    from scipy.ndimage import minimum_filter

    values = relative if allowed is None else np.where(allowed, relative, np.inf)
    found = (values == minimum_filter(values, size=3, mode="wrap")) & (values <= SITE_CAP_EV)
    index = np.argwhere(found)
    energies = values[found]
    order = np.argsort(energies, kind="stable")
    return index[order] / np.array(relative.shape), energies[order]


def _merged(lattice: Any, frac: np.ndarray) -> list[int]:
    """Indices of the minima kept when each merges into a lower one within MERGE_ANGSTROM."""
    kept: list[int] = []
    for k in range(len(frac)):
        if (
            not kept
            or lattice.get_all_distances(frac[k : k + 1], frac[kept]).min() >= MERGE_ANGSTROM
        ):
            kept.append(k)
    return kept


def _ion_frac(structure: Structure, ion: str) -> np.ndarray:
    return np.array([s.frac_coords for s in structure if s.specie.symbol == ion]).reshape(-1, 3)


def framework_operations(structure: Structure, ion: str) -> tuple[list[Any], str]:
    """Symmetry operations (fractional) of the structure without its working ions."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    framework = structure.copy()
    framework.remove_species([ion])
    if not len(framework):
        return [], "?"
    try:
        analyzer = SpacegroupAnalyzer(framework, symprec=SYMPREC)
        return list(analyzer.get_symmetry_operations()), analyzer.get_space_group_symbol()
    except Exception:  # spglib gives up on some distorted cells: identity only
        return [], "?"


def survey_sites(landscape: BVSELandscape, structure: Structure, ion: str) -> SiteSurvey:
    """The BVSE minima of the working ion, occupied or vacant (see the module docstring)."""
    lattice = structure.lattice
    frac, energies = _minima(landscape.relative)
    kept = _merged(lattice, frac)
    ions = _ion_frac(structure, ion)
    operations, symbol = framework_operations(structure, ion)
    images = (
        np.vstack([ions] + [op.operate_multi(ions) for op in operations]) if len(ions) else ions
    )
    sites = []
    for k in kept:
        point = frac[k : k + 1]
        near = float(lattice.get_all_distances(point, ions).min()) if len(ions) else math.inf
        occupied = near <= OCCUPIED_ANGSTROM
        equivalent = (
            not occupied
            and len(images) > 0
            and float(lattice.get_all_distances(point, images).min()) <= OCCUPIED_ANGSTROM
        )
        sites.append(
            BVSESite(
                frac=tuple(float(x) for x in frac[k]),  # type: ignore[arg-type]
                energy_eV=float(energies[k]),
                occupied=occupied,
                equivalent=equivalent,
                clear=near >= CLEARANCE_ANGSTROM,
            )
        )
    return SiteSurvey(sites, symbol)


def interstitial_positions(
    landscape: BVSELandscape, structure: Structure, ion: str
) -> list[tuple[tuple[float, float, float], float]]:
    """Interstitial positions (frac, BVSE eV): minima over points clear of every working ion."""
    lattice = structure.lattice
    shape = landscape.relative.shape
    grid = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1)
    points = grid.reshape(-1, 3)
    ions = _ion_frac(structure, ion)
    clear = np.ones(len(points), dtype=bool)
    for start in range(0, len(points), 20000):  # bounded memory: 20000 x ions x 27 images
        chunk = points[start : start + 20000]
        clear[start : start + 20000] = lattice.get_all_distances(chunk, ions).min(axis=1) >= (
            CLEARANCE_ANGSTROM
        )
    frac, energies = _minima(landscape.relative, clear.reshape(shape))
    return [
        (tuple(float(x) for x in frac[k]), float(energies[k]))  # type: ignore[misc]
        for k in _merged(lattice, frac)
    ]


def repeats_for(structure: Structure, min_length: float) -> list[int]:
    """Repeats along a, b, c until every cell height (face distance) is >= ``min_length``."""
    lattice = structure.lattice
    heights = lattice.volume / np.linalg.norm(
        np.cross(lattice.matrix[[1, 2, 0]], lattice.matrix[[2, 0, 1]]), axis=1
    )
    return [max(1, math.ceil(min_length / h - 1e-9)) for h in heights]


def bounded_repeats(structure: Structure, min_length: float, max_atoms: int) -> list[int]:
    """:func:`repeats_for`, less along the longest repeat while it holds > ``max_atoms``."""
    repeats = repeats_for(structure, min_length)
    while len(structure) * math.prod(repeats) > max_atoms and max(repeats) > 1:
        repeats[repeats.index(max(repeats))] -= 1
    return repeats


@dataclass
class FrenkelCell:
    """One Frenkel pair: a working ion moved from a lattice site to a vacant site."""

    structure: Structure  # the defect supercell, unrelaxed
    repeats: list[int]
    vacancy_frac: tuple[float, float, float]  # in the supercell
    interstitial_frac: tuple[float, float, float]
    site_energy_eV: float  # BVSE energy of the interstitial site above the grid minimum
    separation_angstrom: float
    equivalent_site: bool  # the interstitial sits on a vacant site equivalent to occupied ones
    perfect: Structure = field(repr=False)  # the perfect supercell

    def describe(self) -> dict[str, Any]:
        """The pair as plain values, for provenance."""
        return {
            "repeats": self.repeats,
            "vacancy_frac": [round(x, 5) for x in self.vacancy_frac],
            "interstitial_frac": [round(x, 5) for x in self.interstitial_frac],
            "interstitial_bvse_eV": round(self.site_energy_eV, 4),
            "separation_angstrom": round(self.separation_angstrom, 3),
            "equivalent_site": self.equivalent_site,
            "atoms": len(self.structure),
        }


def frenkel_cells(
    structure: Structure,
    ion: str,
    positions: list[tuple[tuple[float, float, float], float]],
    *,
    min_length: float,
    max_atoms: int,
    trials: int,
    equivalent: list[tuple[float, float, float]] | None = None,
) -> list[FrenkelCell]:
    """Up to ``trials`` Frenkel pairs, on the first symmetry-distinct interstitial positions.

    ``positions`` in the order to try; ``equivalent``: those that are vacant sites
    equivalent to occupied ones (the pair records it).

    The supercell repeats the cell until every height is >= ``min_length`` (shrunk along
    the longest repeat while it holds more than ``max_atoms``); the ion moved is the one
    farthest from the interstitial, so the pair starts as far apart as the cell allows.
    """
    repeats = bounded_repeats(structure, min_length, max_atoms)
    big = structure * repeats
    scale = np.array(repeats, dtype=float)
    ion_index = np.array([k for k, s in enumerate(big) if s.specie.symbol == ion], dtype=int)
    ion_frac = big.frac_coords[ion_index]
    out: list[FrenkelCell] = []
    distinct: list[tuple[tuple[float, float, float], float]] = []
    for position, energy in positions:  # equivalent positions have equal site energies
        if all(abs(energy - e) > DISTINCT_EV for _, e in distinct):
            distinct.append((position, energy))
    for position, energy in distinct[:trials]:
        frac = np.array(position) / scale  # the position's copy in the first cell
        gaps = big.lattice.get_all_distances([frac], ion_frac)[0]
        far = int(np.argmax(gaps))
        moved = int(ion_index[far])
        defect = big.copy()
        vacancy = tuple(float(x) for x in defect[moved].frac_coords)
        defect.remove_sites([moved])
        defect.append(ion, frac, coords_are_cartesian=False)
        out.append(
            FrenkelCell(
                structure=defect,
                repeats=list(repeats),
                vacancy_frac=vacancy,  # type: ignore[arg-type]
                interstitial_frac=tuple(float(x) for x in frac),  # type: ignore[arg-type]
                site_energy_eV=energy,
                separation_angstrom=float(gaps[far]),
                equivalent_site=position in (equivalent or []),
                perfect=big,
            )
        )
    return out


def recombined(relaxed: Structure, perfect: Structure) -> bool:
    """The relaxed defect cell is the perfect crystal again (any translation or permutation).

    A pair can annihilate directly, or by a chain of hops that leaves the ions permuted or
    the sublattice shifted; pymatgen's StructureMatcher (no rescaling, no supercells, site
    tolerance ``RECOMBINED_ANGSTROM`` scaled by the cell) sees all of these.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    stol = RECOMBINED_ANGSTROM / (perfect.volume / len(perfect)) ** (1 / 3)
    matcher = StructureMatcher(
        ltol=0.1, stol=stol, angle_tol=3, primitive_cell=False, scale=False,
        attempt_supercell=False,
    )  # fmt: skip
    return bool(matcher.fit(relaxed, perfect))


def effective_activation_energy(migration_eV: float, formation_eV: float, kind: str) -> float:
    """Em + Ef/2 for thermally created Frenkel pairs, Em where carriers are given."""
    if kind == FRENKEL:
        return migration_eV + 0.5 * formation_eV
    return migration_eV


def formula_for(kind: str) -> str:
    """The activation-energy formula that applies to a carrier kind."""
    return FRENKEL_FORMULA if kind == FRENKEL else FIXED_FORMULA


MD_DEFECT_COMPENSATION = {
    "vacancy": "one neutral working-ion atom removed; the potential sees the cell one atom "
    "short and no explicit compensating defect (for a charge-agnostic ML potential this "
    "stands for a hole on the framework)",
    "interstitial": "one neutral working-ion atom added; no explicit compensating defect "
    "(for a charge-agnostic ML potential this stands for an electron on the framework)",
    "frenkel": "none needed: the pair is neutral",
}


def md_carrier_defect(
    supercell: Structure, ion: str, how: str, carrier_kind: str | None = None
) -> tuple[Structure, dict[str, Any]]:
    """The MD supercell with its carrier defect, and what was inserted.

    ``how``: 'vacancy', 'interstitial', 'frenkel', or 'tier1' (from ``carrier_kind``:
    nothing for intrinsic carriers, a vacancy for vacancies made by charging, a Frenkel
    pair otherwise). Interstitial positions come from the supercell's BVSE landscape; the
    vacancy is the working ion farthest from the interstitial (or the first one).
    """
    from screen.transport.bvse import bvse_landscape

    if how == "tier1":
        if carrier_kind in (INTRINSIC_PARTIAL, INTRINSIC_VACANT):
            return supercell, {"kind": "none", "why": f"tier 1: {carrier_kind}"}
        how = "vacancy" if carrier_kind == BY_CHARGING else "frenkel"
    ions = [k for k, s in enumerate(supercell) if s.specie.symbol == ion]
    if not ions:
        raise ValueError(f"no {ion} in the supercell")
    out = supercell.copy()
    info: dict[str, Any] = {"kind": how, "compensation": MD_DEFECT_COMPENSATION[how]}
    if how == "vacancy":
        info["vacancy_frac"] = [round(float(x), 5) for x in out[ions[0]].frac_coords]
        out.remove_sites([ions[0]])
        return out, info
    positions = interstitial_positions(bvse_landscape(supercell, ion), supercell, ion)
    if not positions:
        raise ValueError(f"no interstitial position for {ion} in the supercell")
    (frac, energy) = positions[0]
    info["interstitial_frac"] = [round(x, 5) for x in frac]
    info["interstitial_bvse_eV"] = round(energy, 4)
    if how == "frenkel":
        gaps = supercell.lattice.get_all_distances([frac], supercell.frac_coords[ions])[0]
        far = ions[int(np.argmax(gaps))]
        info["vacancy_frac"] = [round(float(x), 5) for x in out[far].frac_coords]
        info["separation_angstrom"] = round(float(gaps.max()), 3)
        out.remove_sites([far])
    out.append(ion, frac, coords_are_cartesian=False)
    return out, info
