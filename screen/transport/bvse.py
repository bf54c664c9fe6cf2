"""Bond-valence site energy (BVSE) landscape of a mobile cation and its percolation barriers.

The softBV model (S. Adams, R. P. Rao, Phys. Status Solidi A 208, 1746 (2011); H. Chen,
L. L. Wong, S. Adams, Acta Cryst. B75, 18 (2019)). All working ions are removed (the
framework); a probe working ion A at grid point r has the site energy

    E(r) = sum_X  D0/2 [(exp(alpha (Rmin - R)) - 1)^2 - 1]                 (anions X)
         + sum_B  14.4 q_A q_B / sqrt(n_A n_B) / R  erfc(R / (f (rc_A + rc_B)))  (cations B)

over every framework atom and periodic image within ``cutoff`` of r: a Morse-type
bond-valence attraction to the anions and a screened Coulomb repulsion from the framework
cations; q formal charges, n principal quantum numbers (periodic-table row), rc softBV
covalent radii, f = 0.74. Parameters: softbv.yaml (softBV set of Chen, Wong & Adams).

The factor 1/2 on the Morse term: each A-X bond energy is shared between its two ions,
the usual split of a pair energy into site energies (E_total = 1/2 sum_i sum_j V_ij), and
softBV's BVSE assigns the mobile ion its half. This is what softBV-derived codes do: bvlain
(which states softBV as the source of its code) halves the Morse sum, and so does the BVSE
of the CCNB/BVAnalysis code (0.5 * D0 * sum), while both keep the Coulomb sum whole.
Without it, the barriers of frameworks without cations (NaCl, MgO) would double.

The grid is periodic without duplicated end points: n_i = ceil(|a_i| / resolution) points
along lattice vector a_i at fractions 0, 1/n_i, ..., (n_i - 1)/n_i. Each framework atom
adds its pair term to the grid points in a sphere of radius ``cutoff`` around it
(precomputed grid offsets, one vectorised evaluation per atom, folded back periodically);
Coulomb terms are cut where they fall below 1e-6 eV (about 6-7 Å, see coulomb_range).

Percolation: the accessible region at level E is {r : E(r) - E_min <= E}. Its connected
components are labelled in the cell with 26-neighbour grid connectivity (faces, edges and
corners; 6-neighbour, faces only, on request) and joined across the cell boundary by a
union-find that tracks lattice offsets: every neighbour step that leaves the cell through
one face, or through a periodic edge (two boundaries) or corner (three), joins the
component it leaves to the component it enters in the cell shifted by that step's lattice
offset. A join closing a loop with a non-zero net offset contributes a winding vector, and
the rank of a component's winding vectors is its dimensionality. The 1D/2D/3D barriers are
the lowest levels at which some component reaches that dimensionality, bisected to 1e-3 eV
and snapped down to the grid energy where the accessible region last changes.

Grid convergence (barrier of the first network, eV, at 0.2 / 0.1 / 0.07 Å; all 3D):
with 6 neighbours a path must stair-step through narrow windows and barriers converge from
above; diagonal steps remove most of that (a diagonal step may also cut a corner, so the
26-neighbour barriers can lie slightly below), and 0.2 Å is within about 0.05 eV of 0.07 Å:

    26 neighbours:  MgO (Mg) 1.714 / 1.764 / 1.764   MgAl2O4 (Mg) 0.654 / 0.630 / 0.613
                    NaCl (Na) 0.808 / 0.814 / 0.811
     6 neighbours:  MgO (Mg) 2.138 / 1.828 / 1.794   MgAl2O4 (Mg) 0.812 / 0.668 / 0.645
                    NaCl (Na) 0.881 / 0.822 / 0.816

Units: energies in eV, distances in Å.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

SOFTBV_FILE = Path(__file__).with_name("softbv.yaml")
COULOMB_EV_ANGSTROM = 14.4  # e^2 / (4 pi eps0), as in softBV
SCREENING_FACTOR = 0.74  # f of the erfc screening length f (rc_A + rc_B)
LEVEL_TOLERANCE_EV = 1e-3  # bisection tolerance of the percolation levels
CLOSEST_APPROACH = 0.05  # Å: distances are floored here (grid point on an atom)
TERM_TOLERANCE_EV = 1e-6  # Coulomb terms smaller than this are left out (see coulomb_range)


class BVSEError(ValueError):
    """A structure or working ion the BVSE model cannot treat."""


@dataclass(frozen=True)
class MorsePair:
    """softBV Morse parameters of one mobile cation - anion pair (Å, eV)."""

    r0: float
    b: float
    r_min: float
    d0: float

    @property
    def alpha(self) -> float:
        """Morse and bond-valence exponent 1/b (1/Å)."""
        return 1.0 / self.b


@dataclass(frozen=True)
class SoftBVTable:
    """The softBV parameter file: Morse pairs by ion and anion, cation covalent radii."""

    morse: dict[str, dict[str, MorsePair]]
    covalent_radii: dict[str, float]

    def pair(self, ion: str, anion: str) -> MorsePair:
        """Morse parameters of (ion, anion), species written as pymatgen does ("Na+", "O2-")."""
        anions = self.morse.get(ion, {})
        if anion not in anions:
            available = ", ".join(anions) or "none"
            raise BVSEError(
                f"no softBV Morse parameters for the pair {ion} - {anion} in {SOFTBV_FILE.name}; "
                f"anions available for {ion}: {available}"
            )
        return anions[anion]

    def covalent_radius(self, symbol: str) -> float:
        """Covalent radius of a cation (Å): softBV's, else ASE's where softBV has none."""
        if symbol in self.covalent_radii:
            return self.covalent_radii[symbol]
        from ase.data import atomic_numbers, covalent_radii

        return float(covalent_radii[atomic_numbers[symbol]])


@functools.lru_cache(maxsize=1)
def softbv_table() -> SoftBVTable:
    """The parameters of softbv.yaml, read once."""
    import yaml

    data = yaml.safe_load(SOFTBV_FILE.read_text())
    morse = {
        ion: {
            anion: MorsePair(r0=p["R0"], b=p["b"], r_min=p["Rmin"], d0=p["D0"])
            for anion, p in pairs.items()
        }
        for ion, pairs in data["morse"].items()
    }
    radii = {el: float(r) for el, r in data["covalent_radii"].items()}
    return SoftBVTable(morse, radii)


def species_label(symbol: str, charge: float) -> str:
    """An ion as pymatgen writes it: ("Na", 1) -> "Na+", ("O", -2) -> "O2-"."""
    q = round(charge)
    magnitude = "" if abs(q) == 1 else str(abs(q))
    return f"{symbol}{magnitude}{'+' if q > 0 else '-'}"


@dataclass(frozen=True)
class BVSEResult:
    """Percolation barriers (eV) of the working ion's BVSE landscape; inf: none below the cap."""

    working_ion: str
    ion_charge: int
    barrier_1d_eV: float
    barrier_2d_eV: float
    barrier_3d_eV: float
    dimensionality: int  # of the network that opens first (at barrier_eV); 0: none
    barrier_eV: float  # the lowest finite barrier (the 1D one), or inf
    grid_shape: tuple[int, int, int]
    method: str

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (grid_shape as a list)."""
        out = asdict(self)
        out["grid_shape"] = list(self.grid_shape)
        return out


# ---------------------------------------------------------------- charges and framework


def site_charges(structure: Structure, oxidation_states: dict[str, float] | None) -> np.ndarray:
    """Formal charge of every site: given per element, else BVAnalyzer, else ICSD guesses."""
    formula = structure.composition.reduced_formula
    symbols = [site.specie.symbol for site in structure]
    if oxidation_states is not None:
        missing = sorted(set(symbols) - set(oxidation_states))
        if missing:
            raise BVSEError(f"{formula}: no oxidation state given for {', '.join(missing)}")
        return np.array([float(oxidation_states[s]) for s in symbols])
    given = [getattr(site.specie, "oxi_state", None) for site in structure]
    if all(q is not None for q in given):
        return np.array(given, dtype=float)
    import warnings

    from pymatgen.analysis.bond_valence import BVAnalyzer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array(BVAnalyzer().get_valences(structure), dtype=float)
    except ValueError:
        pass
    from screen.candidates.chemistry import oxidation_states as guess

    guessed = guess(structure.composition)
    if guessed is None:
        raise BVSEError(
            f"cannot assign oxidation states to {formula} (BVAnalyzer and ICSD guesses)"
        )
    return np.array([guessed[s] for s in symbols])


@dataclass(frozen=True)
class Framework:
    """The framework's pair terms for one probe ion: Morse to anions, Coulomb to cations."""

    anion_frac: np.ndarray  # (n_X, 3) fractional coordinates
    morse: np.ndarray  # (n_X, 3): D0, alpha, Rmin
    cation_frac: np.ndarray  # (n_B, 3)
    coulomb: np.ndarray  # (n_B, 2): 14.4 q_A q_B / sqrt(n_A n_B), screening length (Å)


def framework_terms(
    structure: Structure, working_ion: str, charges: np.ndarray, table: SoftBVTable
) -> tuple[Framework, int]:
    """The pair parameters of every framework atom, and the working ion's charge."""
    from pymatgen.core import Element

    formula = structure.composition.reduced_formula
    symbols = np.array([site.specie.symbol for site in structure])
    is_ion = symbols == working_ion
    if not is_ion.any():
        raise BVSEError(f"working ion {working_ion} is not in {formula}")
    ion_charge = round(float(charges[is_ion].mean()))
    if ion_charge <= 0:
        raise BVSEError(f"working ion {working_ion} is not a cation in {formula} (q={ion_charge})")
    ion = species_label(working_ion, ion_charge)
    if ion not in table.morse:
        raise BVSEError(
            f"no softBV parameters for mobile ion {ion} in {SOFTBV_FILE.name}; "
            f"available: {', '.join(table.morse)}"
        )
    frac = structure.frac_coords
    anions = ~is_ion & (charges < 0)
    cations = ~is_ion & (charges > 0)
    if not anions.any():
        raise BVSEError(f"{formula} has no anions to bind {ion}")
    morse = []
    for symbol, q in zip(symbols[anions], charges[anions], strict=True):
        p = table.pair(ion, species_label(str(symbol), q))
        morse.append((p.d0, p.alpha, p.r_min))
    n_a = Element(working_ion).row
    rc_a = table.covalent_radius(working_ion)
    coulomb = [
        (
            COULOMB_EV_ANGSTROM * ion_charge * q / math.sqrt(n_a * Element(str(symbol)).row),
            SCREENING_FACTOR * (rc_a + table.covalent_radius(str(symbol))),
        )
        for symbol, q in zip(symbols[cations], charges[cations], strict=True)
    ]
    framework = Framework(
        anion_frac=frac[anions],
        morse=np.array(morse, dtype=float).reshape(-1, 3),
        cation_frac=frac[cations],
        coulomb=np.array(coulomb, dtype=float).reshape(-1, 2),
    )
    return framework, ion_charge


# ------------------------------------------------------------------------ energy grid


def grid_shape_for(lattice_matrix: np.ndarray, resolution: float) -> tuple[int, int, int]:
    """Points per lattice vector: ceil(|a_i| / resolution)."""
    lengths = np.linalg.norm(lattice_matrix, axis=1)
    n0, n1, n2 = (max(1, math.ceil(float(x) / resolution - 1e-9)) for x in lengths)
    return n0, n1, n2


def coulomb_range(prefactor: float, screening: float, cutoff: float) -> float:
    """Distance (Å, at most ``cutoff``) beyond which the screened Coulomb term is negligible.

    Beyond it every term is below TERM_TOLERANCE_EV (erfc decays as exp(-x^2): about 6-7 Å
    for the usual screening lengths of 1.8-2.1 Å), so a whole shell of such terms changes a
    site energy by far less than the 1e-3 eV of the percolation levels.
    """
    from scipy.special import erfc

    r = np.arange(0.5, cutoff + 0.01, 0.01)
    large = np.flatnonzero(abs(prefactor) * erfc(r / screening) / r >= TERM_TOLERANCE_EV)
    return cutoff if large.size == 0 else min(cutoff, float(r[large[-1]]) + 0.01)


@dataclass(frozen=True)
class Stencil:
    """Grid offsets around the grid cell holding an atom, as index and Cartesian vectors.

    ``flat`` indexes the extended grid from the stencil's low corner; ``minus_2p`` is
    -2 x the Cartesian offset (Å) and ``norm2`` its squared length, so that the squared
    distance from an atom at ``shift`` inside its cell is norm2 + minus_2p @ shift + |shift|^2.
    """

    flat: np.ndarray
    minus_2p: np.ndarray
    norm2: np.ndarray

    def select(self, keep: np.ndarray) -> Stencil:
        """The offsets where ``keep`` is true."""
        return Stencil(self.flat[keep], self.minus_2p[keep], self.norm2[keep])


@dataclass
class ExtendedGrid:
    """The periodic grid, padded by the stencil's reach, accumulating every atom's terms.

    Grid point i (per axis) is stored at i + reach + m n (any integer m); the padded length
    is a whole number of cells so that folding is a reshape and a sum.
    """

    lattice_matrix: np.ndarray
    shape: tuple[int, int, int]
    cutoff: float

    def __post_init__(self) -> None:
        n = np.array(self.shape)
        self.n = n
        voxel = self.lattice_matrix / n[:, None]
        corners = np.array(list(itertools.product((0, 1), repeat=3))) @ voxel
        self.slack = float(np.linalg.norm(corners, axis=1).max())  # an atom's offset in its cell
        radius = self.cutoff + self.slack
        face_density = np.linalg.norm(np.linalg.inv(self.lattice_matrix), axis=0)  # 1/heights
        self.reach = np.ceil(radius * face_density * n).astype(int) + 1
        self.folds = -(-(n + 2 * self.reach + 1) // n)  # cells spanned by a padded axis
        self.ext_shape = tuple(int(x) for x in n * self.folds)
        self.strides = np.array([self.ext_shape[1] * self.ext_shape[2], self.ext_shape[2], 1])
        self.values = np.zeros(int(np.prod(self.ext_shape)))
        axes = [np.arange(-m, m + 1) for m in self.reach]
        offsets = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        cartesian = (offsets / n) @ self.lattice_matrix
        norm2 = np.einsum("ij,ij->i", cartesian, cartesian)
        keep = norm2 <= radius * radius
        self.stencil = Stencil(
            (offsets[keep] + self.reach) @ self.strides, -2.0 * cartesian[keep], norm2[keep]
        )
        self._parts: dict[float, tuple[Stencil, Stencil]] = {}

    def parts(self, radius: float) -> tuple[Stencil, Stencil]:
        """Offsets always within ``radius`` of an atom in the cell, and those maybe within."""
        if radius not in self._parts:
            norm = np.sqrt(self.stencil.norm2)
            inner = self.stencil.select(norm <= radius - self.slack)
            shell = self.stencil.select(
                (norm > radius - self.slack) & (norm <= radius + self.slack)
            )
            self._parts[radius] = (inner, shell)
        return self._parts[radius]

    def deposit(self, frac: np.ndarray, radius: float, term: PairTerm, params: Any) -> None:
        """Add an atom's pair term to every grid point within ``radius`` (Å) of it."""
        frac = np.mod(frac, 1.0)
        cell = np.minimum(np.floor(frac * self.n).astype(int), self.n - 1)
        shift = (frac - cell / self.n) @ self.lattice_matrix  # atom within its grid cell (Å)
        corner = int(cell @ self.strides)  # where the stencil's low corner lands
        window = self.values[corner:]
        inner, shell = self.parts(radius)
        for part, masked in ((inner, False), (shell, True)):
            r2 = part.minus_2p @ shift
            r2 += part.norm2
            r2 += shift @ shift
            flat = part.flat
            if masked:
                inside = r2 <= radius * radius
                r2, flat = r2[inside], flat[inside]
            r = np.sqrt(np.maximum(r2, CLOSEST_APPROACH**2, out=r2), out=r2)
            np.add.at(window, flat, term(r, *params))

    def folded(self) -> np.ndarray:
        """The accumulated energies folded back onto the periodic cell."""
        f0, f1, f2 = (int(f) for f in self.folds)
        n0, n1, n2 = self.shape
        summed = self.values.reshape(f0, n0, f1, n1, f2, n2).sum(axis=(0, 2, 4))
        return np.roll(summed, tuple(int(-r) for r in self.reach), axis=(0, 1, 2))


PairTerm = Callable[..., np.ndarray]


def _morse(r: np.ndarray, d0: float, alpha: float, r_min: float) -> np.ndarray:
    """Half the softBV Morse bond energy (see the module docstring), eV."""
    x = np.expm1(alpha * (r_min - r))
    x *= x
    x -= 1.0
    x *= 0.5 * d0
    return x


def _coulomb(r: np.ndarray, prefactor: float, screening: float) -> np.ndarray:
    """Screened cation-cation Coulomb repulsion, eV."""
    from scipy.special import erfc

    e = erfc(r / screening)
    e *= prefactor
    e /= r
    return e


def site_energy_grid(
    lattice_matrix: np.ndarray, framework: Framework, shape: tuple[int, int, int], cutoff: float
) -> np.ndarray:
    """BVSE (eV) of the probe ion at every grid point, periodic images within ``cutoff``.

    BLAS is held to one thread: its only use here, small matrix-vector products, is
    memory-bound, and a second thread competing with other work slows it several-fold.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        grid = ExtendedGrid(lattice_matrix, shape, cutoff)
        for frac, params in zip(framework.anion_frac, framework.morse, strict=True):
            grid.deposit(frac, cutoff, _morse, params)
        ranges = {tuple(p): coulomb_range(p[0], p[1], cutoff) for p in framework.coulomb}
        for frac, params in zip(framework.cation_frac, framework.coulomb, strict=True):
            grid.deposit(frac, ranges[tuple(params)], _coulomb, params)
        return grid.folded()


# ------------------------------------------------------------------------- percolation


CONNECTIVITIES = (6, 26)  # grid neighbours: faces only, or faces + edges + corners


def check_connectivity(connectivity: int) -> None:
    """Raise BVSEError unless ``connectivity`` is 6 or 26."""
    if connectivity not in CONNECTIVITIES:
        raise BVSEError(f"connectivity must be 6 or 26 grid neighbours, not {connectivity!r}")


@functools.lru_cache(maxsize=2)
def _periodic_steps(connectivity: int) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Neighbour steps d (one of each pair +-d) and, per step, the sets of axes it may cross.

    Returns (d, crossed) pairs: a grid point p with p_i on the cell boundary that d leaves
    for exactly the axes in ``crossed`` has its neighbour p + d in the cell offset by
    sign(d_i) along those axes (faces: one axis; edges: two; corners: three).
    """
    if connectivity == 6:
        steps = [tuple(int(i == axis) for i in range(3)) for axis in range(3)]
    else:
        steps = [d for d in itertools.product((-1, 0, 1), repeat=3) if d > (0, 0, 0)]
    out = []
    for d in steps:
        moving = [i for i in range(3) if d[i]]
        for k in range(1, len(moving) + 1):
            for crossed in itertools.combinations(moving, k):
                out.append((d, crossed))
    return tuple(out)


def _boundary_pairs(
    labels: np.ndarray, connectivity: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(lattice step, labels u, labels v): u in the cell touches v in the cell shifted by step."""
    n = labels.shape
    for d, crossed in _periodic_steps(connectivity):
        source, target = [], []
        for i in range(3):
            if d[i] == 0:
                source.append(slice(None))
                target.append(slice(None))
            elif i in crossed:  # p_i on the face that d leaves; p_i + d_i wraps
                source.append(slice(n[i] - 1, n[i]) if d[i] > 0 else slice(0, 1))
                target.append(slice(0, 1) if d[i] > 0 else slice(n[i] - 1, n[i]))
            else:  # p_i + d_i stays inside the cell
                source.append(slice(0, n[i] - 1) if d[i] > 0 else slice(1, n[i]))
                target.append(slice(1, n[i]) if d[i] > 0 else slice(0, n[i] - 1))
        u = labels[tuple(source)].ravel()
        v = labels[tuple(target)].ravel()
        touching = (u > 0) & (v > 0)
        if not touching.any():
            continue
        step = np.zeros(3, dtype=int)
        for i in crossed:
            step[i] = d[i]
        yield step, np.unique(np.stack([u[touching], v[touching]], axis=1), axis=0)


def network_dimensionality(accessible: np.ndarray, *, connectivity: int = 26) -> int:
    """Largest number of independent lattice directions a periodic component wraps (0-3).

    ``accessible`` is a boolean grid over one periodic cell (no duplicated end points);
    grid points are ``connectivity``-neighbour connected (6: faces; 26: faces, edges and
    corners), also across the cell's periodic faces, edges and corners.
    """
    from scipy import ndimage

    check_connectivity(connectivity)
    rank = 1 if connectivity == 6 else 3
    labels, count = ndimage.label(accessible, ndimage.generate_binary_structure(3, rank))
    if count == 0:
        return 0
    parent = list(range(count + 1))
    offset = [np.zeros(3, dtype=int) for _ in range(count + 1)]  # position relative to parent
    windings: dict[int, list[np.ndarray]] = {}

    def find(x: int) -> tuple[int, np.ndarray]:
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        root, total = x, np.zeros(3, dtype=int)
        for node in reversed(path):  # from next-to-root down: compress and accumulate
            total = total + offset[node]
            offset[node], parent[node] = total.copy(), root
        return root, (offset[path[0]] if path else total)

    for step, pairs in _boundary_pairs(labels, connectivity):
        for u, v in pairs:
            # component u in this cell touches component v in the cell shifted by step
            root_u, p_u = find(int(u))
            root_v, p_v = find(int(v))
            if root_u == root_v:
                winding = step - p_v + p_u
                if winding.any():
                    windings.setdefault(root_u, []).append(winding)
            else:
                parent[root_v], offset[root_v] = root_u, p_u + step - p_v
                windings.setdefault(root_u, []).extend(windings.pop(root_v, []))
    ranks = [int(np.linalg.matrix_rank(np.array(w))) for w in windings.values() if w]
    return max(ranks, default=0)


def percolation_levels(
    energies: np.ndarray,
    *,
    max_level: float = 5.0,
    tolerance: float = LEVEL_TOLERANCE_EV,
    connectivity: int = 26,
) -> tuple[tuple[float, float, float], int]:
    """The 1D, 2D and 3D percolation levels above the grid minimum (eV), and dimensionality.

    A level is inf when that dimensionality is not reached at ``max_level``. The
    dimensionality is that of the network open at the 1D level (0 when none).
    ``connectivity``: 26 (grid neighbours across faces, edges and corners) or 6 (faces).
    """
    check_connectivity(connectivity)
    relative = energies - energies.min()
    seen: dict[float, int] = {}

    def dimension(level: float) -> int:
        if level not in seen:
            seen[level] = network_dimensionality(relative <= level, connectivity=connectivity)
        return seen[level]

    top = dimension(max_level)
    levels = []
    for k in (1, 2, 3):
        if top < k:
            levels.append(math.inf)
            continue
        if dimension(0.0) >= k:
            levels.append(0.0)
            continue
        low = max(level for level, d in seen.items() if d < k)
        high = min(level for level, d in seen.items() if d >= k)
        while high - low > tolerance:
            middle = 0.5 * (low + high)
            if dimension(middle) >= k:
                high = middle
            else:
                low = middle
        levels.append(high)
    # every probed level is an upper bound: take the lowest per dimensionality, then snap
    # it down to the grid energy where the accessible region last changed (same region)
    result = []
    for k, level in zip((1, 2, 3), levels, strict=True):
        if math.isfinite(level):
            level = min(x for x, d in seen.items() if d >= k)
            level = float(relative[relative <= level].max())
        result.append(level)
    l1, l2, l3 = result
    return (l1, l2, l3), (dimension(l1) if math.isfinite(l1) else 0)


# ---------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class BVSELandscape:
    """The site-energy grid of the working ion (eV, over the cell) and its barriers."""

    result: BVSEResult
    energies: np.ndarray  # (n0, n1, n2) eV at fractions i/n_i; minimum not subtracted
    lattice_matrix: np.ndarray  # (3, 3) Å, rows a, b, c

    @property
    def relative(self) -> np.ndarray:
        """Site energies above the grid minimum (eV)."""
        return self.energies - self.energies.min()


def bvse_barriers(
    structure: Structure,
    working_ion: str,
    *,
    oxidation_states: dict[str, float] | None = None,
    resolution: float = 0.2,
    cutoff: float = 8.0,
    max_level: float = 5.0,
    connectivity: int = 26,
) -> BVSEResult:
    """1D/2D/3D BVSE percolation barriers of ``working_ion`` in an ordered structure.

    ``oxidation_states`` (element -> formal charge) overrides pymatgen's BVAnalyzer (and
    its fallback, the ICSD-statistics guesses). Barriers above ``max_level`` eV are inf.
    ``connectivity``: percolation over 26 grid neighbours (faces, edges, corners; the
    default) or 6 (faces only, which overestimates barriers on coarse grids).
    """
    return bvse_landscape(
        structure,
        working_ion,
        oxidation_states=oxidation_states,
        resolution=resolution,
        cutoff=cutoff,
        max_level=max_level,
        connectivity=connectivity,
    ).result


def bvse_landscape(
    structure: Structure,
    working_ion: str,
    *,
    oxidation_states: dict[str, float] | None = None,
    resolution: float = 0.2,
    cutoff: float = 8.0,
    max_level: float = 5.0,
    connectivity: int = 26,
) -> BVSELandscape:
    """The barriers of :func:`bvse_barriers` with the site-energy grid they came from."""
    check_connectivity(connectivity)
    if not structure.is_ordered:
        raise BVSEError(f"{structure.composition.reduced_formula}: BVSE needs an ordered structure")
    table = softbv_table()
    charges = site_charges(structure, oxidation_states)
    framework, ion_charge = framework_terms(structure, working_ion, charges, table)
    lattice_matrix = np.array(structure.lattice.matrix, dtype=float)
    shape = grid_shape_for(lattice_matrix, resolution)
    energies = site_energy_grid(lattice_matrix, framework, shape, cutoff)
    (b1, b2, b3), dimensionality = percolation_levels(
        energies, max_level=max_level, connectivity=connectivity
    )
    result = BVSEResult(
        working_ion=working_ion,
        ion_charge=ion_charge,
        barrier_1d_eV=b1,
        barrier_2d_eV=b2,
        barrier_3d_eV=b3,
        dimensionality=dimensionality,
        barrier_eV=b1,
        grid_shape=shape,
        method=(
            "BVSE (softBV parameters, Chen, Wong & Adams 2019), "
            f"grid {resolution:.2f} Å, Morse to anions + screened Coulomb to framework "
            f"cations, {connectivity}-neighbour percolation over periodic grid"
        ),
    )
    return BVSELandscape(result, energies, lattice_matrix)
