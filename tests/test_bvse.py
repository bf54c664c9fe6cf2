"""Bond-valence site energies: percolation on synthetic grids, the energy grid, real cells."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screen.transport.bvse import (
    BVSEError,
    bvse_barriers,
    framework_terms,
    grid_shape_for,
    network_dimensionality,
    percolation_levels,
    site_energy_grid,
    softbv_table,
)

HIGH = 3.0  # energy of the blocked grid points in the synthetic landscapes


def rock_salt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup(
        225, Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def spinel() -> Structure:
    # MgAl2O4, origin choice 1 (a = 8.083 Å, oxygen u = 0.2624 in origin choice 2)
    return Structure.from_spacegroup(
        227, Lattice.cubic(8.083), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.3874] * 3]
    )


def staircase(shape: tuple[int, int, int], axes: tuple[int, ...], start: tuple[int, int, int]):
    """Grid points of a 6-connected channel stepping along ``axes`` in turn, wrapping around."""
    point = list(start)
    points = [tuple(point)]
    for _ in range(shape[axes[0]]):
        for axis in axes:
            point[axis] = (point[axis] + 1) % shape[axis]
            points.append(tuple(point))
    return points


# ------------------------------------------------------------------ synthetic percolation


def test_straight_channel_percolates_in_1d_at_its_bottleneck():
    energies = np.full((12, 10, 8), HIGH)
    energies[5, :, 4] = 1.0
    energies[5, 0, 4] = 0.0  # the minimum
    energies[5, 6, 4] = 1.2345  # the bottleneck
    (b1, b2, b3), dim = percolation_levels(energies, max_level=2.5)
    assert b1 == pytest.approx(1.2345, abs=1e-9)  # snapped onto the grid energy
    assert (b2, b3, dim) == (math.inf, math.inf, 1)
    (b1, b2, b3), dim = percolation_levels(energies, max_level=5.0)
    assert (b1, b2, b3, dim) == (pytest.approx(1.2345), HIGH, HIGH, 1)


def test_slab_percolates_in_2d():
    energies = np.full((9, 10, 11), HIGH)
    energies[:, :, 3] = 0.5
    energies[2, 7, 3] = 0.0
    (b1, b2, b3), dim = percolation_levels(energies, max_level=2.0)
    assert (b1, b2, b3, dim) == (0.5, 0.5, math.inf, 2)


def test_everything_low_percolates_in_3d():
    energies = np.full((8, 9, 10), 0.25)
    energies[3, 4, 5] = 0.0
    assert percolation_levels(energies) == ((0.25, 0.25, 0.25), 3)
    assert percolation_levels(np.zeros((4, 4, 4))) == ((0.0, 0.0, 0.0), 3)


@pytest.mark.parametrize("axes", [(0, 1), (0, 1, 2)])
def test_channel_wrapping_diagonally_through_faces_is_1d(axes):
    shape = (10, 10, 10)
    accessible = np.zeros(shape, dtype=bool)
    for point in staircase(shape, axes, (0, 0, 4)):
        accessible[point] = True
    # no straight row of the cell is open: only the diagonal winding makes it percolate
    assert not any(accessible.all(axis=a).any() for a in range(3))
    assert network_dimensionality(accessible) == 1
    energies = np.where(accessible, 0.2, HIGH)
    energies[0, 0, 4] = 0.0
    (b1, b2, _), dim = percolation_levels(energies, max_level=2.0)
    assert (b1, b2, dim) == (0.2, math.inf, 1)


def test_component_touching_opposite_faces_without_wrapping_does_not_percolate():
    accessible = np.zeros((8, 8, 8), dtype=bool)
    accessible[0:5, 2, 2] = True  # enters at x = 0, y = 2 ...
    accessible[4, 2:6, 2] = True
    accessible[4:8, 5, 2] = True  # ... leaves at x = 7, y = 5: its image does not meet it
    assert accessible[0].any() and accessible[-1].any()
    assert network_dimensionality(accessible) == 0
    accessible[4:8, 2, 2] = True  # now the x = 7 end meets the x = 0 start of the next cell
    assert network_dimensionality(accessible) == 1


def test_pocket_cut_by_the_cell_corner_is_one_finite_pocket():
    # four labels in the cell, joined across the x and y faces into one 2 x 2 x 2 pocket:
    # the joins close loops, but with zero net lattice offset
    accessible = np.zeros((10, 10, 10), dtype=bool)
    for x, y, z in np.ndindex(2, 2, 2):
        accessible[(x - 1) % 10, (y - 1) % 10, 4 + z] = True
    assert network_dimensionality(accessible) == 0
    accessible[:, 0, 4] = True  # an open row along x through the pocket
    assert network_dimensionality(accessible) == 1


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("seed", range(12))
def test_dimensionality_of_random_networks_does_not_depend_on_the_cell(seed, connectivity):
    # the same infinite network, cut into cells differently: shifted origin, supercells,
    # permuted axes, mirrored axes; near the site-percolation threshold (0.31 for 6
    # neighbours, 0.10 for 26) all dimensionalities occur
    rng = np.random.default_rng(seed)
    low, high = (0.25, 0.4) if connectivity == 6 else (0.06, 0.14)
    accessible = rng.random((5, 6, 7)) < rng.uniform(low, high)
    expected = network_dimensionality(accessible, connectivity=connectivity)
    for variant in (
        np.roll(accessible, (2, 3, 1), axis=(0, 1, 2)),
        np.tile(accessible, (2, 1, 1)),
        np.tile(accessible, (1, 2, 3)),
        accessible.transpose(2, 0, 1),
        accessible[::-1, :, ::-1],
    ):
        assert network_dimensionality(variant, connectivity=connectivity) == expected
    # 26 neighbours add connections to the 6: the network can only grow
    assert network_dimensionality(accessible) >= network_dimensionality(accessible, connectivity=6)


@pytest.mark.parametrize(
    ("direction", "start"),
    [
        ((1, 1, 0), (0, 0, 4)),  # wraps through the periodic edge x = y = 0
        ((1, 1, 0), (0, 3, 4)),  # crosses the x and y faces at different points
        ((1, -1, 0), (0, 0, 4)),
        ((1, 1, 1), (0, 0, 0)),  # wraps through the cell corner
        ((1, -1, 1), (0, 0, 0)),
        ((1, 1, -1), (0, 3, 7)),
    ],
)
def test_channel_connected_only_diagonally_percolates_with_26_neighbours_only(direction, start):
    shape = (10, 10, 10)
    accessible = np.zeros(shape, dtype=bool)
    for i in range(10):
        accessible[tuple((s + i * d) % 10 for s, d in zip(start, direction, strict=True))] = True
    assert accessible.sum() == 10  # no two points of the channel share a face
    assert network_dimensionality(accessible) == 1
    assert network_dimensionality(accessible, connectivity=26) == 1
    assert network_dimensionality(accessible, connectivity=6) == 0
    energies = np.where(accessible, 0.2, HIGH)
    energies[start] = 0.0
    assert percolation_levels(energies, max_level=2.0) == ((0.2, math.inf, math.inf), 1)
    assert percolation_levels(energies, max_level=2.0, connectivity=6) == (
        (math.inf,) * 3,
        0,
    )


def test_diagonal_channel_through_an_edge_and_the_corner_of_a_non_cubic_cell():
    # steps (1, 1, 1) in a 5 x 5 x 10 cell: (4, 4, 4) -> (0, 0, 5) crosses the x-y edge,
    # (4, 4, 9) -> (0, 0, 0) the corner; the channel closes after 10 steps, winding (2, 2, 1)
    accessible = np.zeros((5, 5, 10), dtype=bool)
    for i in range(10):
        accessible[i % 5, i % 5, i] = True
    assert network_dimensionality(accessible) == 1
    assert network_dimensionality(accessible, connectivity=6) == 0
    accessible[4, 4, 9] = False  # cut the corner step: a finite segment
    assert network_dimensionality(accessible) == 0


def test_connectivity_must_be_6_or_26():
    accessible = np.ones((3, 3, 3), dtype=bool)
    for call in (
        lambda: network_dimensionality(accessible, connectivity=18),
        lambda: percolation_levels(np.zeros((3, 3, 3)), connectivity=8),
        lambda: bvse_barriers(rock_salt("Na", "Cl", 5.640), "Na", connectivity=4),
    ):
        with pytest.raises(BVSEError, match="connectivity must be 6 or 26"):
            call()
    assert issubclass(BVSEError, ValueError)


def test_isolated_pockets_do_not_percolate():
    energies = np.full((10, 10, 10), HIGH)
    for centre in [(2, 2, 2), (7, 7, 7), (2, 7, 5)]:
        energies[tuple(slice(c - 1, c + 2) for c in centre)] = 0.4
    energies[2, 2, 2] = 0.0
    assert percolation_levels(energies, max_level=2.0) == ((math.inf,) * 3, 0)


# ---------------------------------------------------------------------- the energy grid


def test_site_energies_match_a_direct_periodic_sum_in_a_triclinic_cell():
    lattice = Lattice.from_parameters(5.3, 5.9, 6.4, 77.0, 84.0, 103.0)
    structure = Structure(
        lattice,
        ["Na", "Na", "Al", "Al", "O", "O", "O", "O"],
        [
            [0.1, 0.2, 0.3],
            [0.6, 0.7, 0.8],
            [0.4, 0.1, 0.6],
            [0.9, 0.6, 0.1],
            [0.25, 0.45, 0.05],
            [0.75, 0.95, 0.55],
            [0.05, 0.85, 0.65],
            [0.55, 0.35, 0.15],
        ],
    )
    charges = np.array([1, 1, 3, 3, -2, -2, -2, -2], dtype=float)
    framework, _ = framework_terms(structure, "Na", charges, softbv_table())
    matrix = lattice.matrix
    cutoff = 6.0
    shape = grid_shape_for(matrix, 0.4)
    assert shape == tuple(math.ceil(x / 0.4) for x in lattice.abc)
    energies = site_energy_grid(matrix, framework, shape, cutoff)
    assert energies.shape == shape

    from scipy.special import erfc

    images = np.array(np.meshgrid(*[np.arange(-4, 5)] * 3, indexing="ij")).reshape(3, -1).T
    rng = np.random.default_rng(0)
    for index in rng.integers(0, shape, size=(25, 3)):
        point = (index / np.array(shape)) @ matrix
        expected = 0.0
        for frac, (d0, alpha, r_min) in zip(framework.anion_frac, framework.morse, strict=True):
            r = np.linalg.norm((frac + images) @ matrix - point, axis=1)
            r = r[r <= cutoff]
            expected += np.sum(0.5 * d0 * ((np.exp(alpha * (r_min - r)) - 1) ** 2 - 1))
        for frac, (pref, screen) in zip(framework.cation_frac, framework.coulomb, strict=True):
            r = np.linalg.norm((frac + images) @ matrix - point, axis=1)
            r = r[r <= cutoff]
            expected += np.sum(pref * erfc(r / screen) / r)
        assert energies[tuple(index)] == pytest.approx(expected, abs=2e-4)


def test_softbv_table_holds_only_sound_entries():
    table = softbv_table()
    assert set(table.morse) == {"Li+", "Na+", "K+", "Mg2+", "Ca2+", "Zn2+"}
    for pairs in table.morse.values():
        for p in pairs.values():
            assert p.alpha > 0 and p.d0 > 0 and p.r_min > p.r0
    for ion, anion in [("Mg2+", "Se2-"), ("Mg2+", "I-"), ("Ca2+", "Te2-"), ("Ca2+", "Br-")]:
        assert anion not in table.morse[ion]
    na_o = table.pair("Na+", "O2-")
    assert (na_o.r0, na_o.b, na_o.r_min, na_o.d0) == (1.56225, 0.482, 2.374335, 0.575227)
    assert table.covalent_radius("Na") == 1.66


# -------------------------------------------------------------------------- real cells


@pytest.fixture(scope="module")
def nacl():
    return bvse_barriers(rock_salt("Na", "Cl", 5.640), "Na")


def test_rock_salt_barrier_does_not_depend_on_the_cell_choice(nacl):
    primitive = bvse_barriers(rock_salt("Na", "Cl", 5.640).get_primitive_structure(), "Na")
    assert nacl.dimensionality == primitive.dimensionality == 3
    assert nacl.barrier_eV == pytest.approx(primitive.barrier_eV, abs=0.05)
    assert 0.5 < nacl.barrier_eV < 1.3  # oct - tet - oct


def test_na3ps4_conducts_na_better_than_rock_salt(nacl):
    from screen.candidates.prototypes import load_prototypes

    structure = load_prototypes()["na3ps4-tetragonal-A3TX4"].reference_structure()
    result = bvse_barriers(structure, "Na")
    assert result.ion_charge == 1
    assert result.barrier_eV < nacl.barrier_eV - 0.15
    assert 0.2 < result.barrier_eV < 0.9
    assert result.barrier_1d_eV <= result.barrier_2d_eV <= result.barrier_3d_eV < 5.0
    assert result.as_dict()["grid_shape"] == list(result.grid_shape)
    assert "grid 0.20 Å" in result.method
    assert "26-neighbour percolation" in result.method


def test_spinel_conducts_mg_better_than_rock_salt_mgo():
    mgo = bvse_barriers(rock_salt("Mg", "O", 4.212), "Mg")
    result = bvse_barriers(spinel(), "Mg")
    assert result.ion_charge == 2
    assert result.dimensionality == 3
    assert result.barrier_3d_eV == result.barrier_eV
    assert result.barrier_eV < mgo.barrier_eV - 0.5
    assert 0.4 < result.barrier_eV < 1.2


@pytest.mark.parametrize(
    ("structure", "barrier_01"),
    [(rock_salt("Mg", "O", 4.212), 1.76), (spinel(), 0.63)],
    ids=["MgO", "MgAl2O4"],
)
def test_barriers_on_the_default_grid_are_close_to_the_fine_grid(structure, barrier_01):
    # 26-neighbour paths need not stair-step through narrow windows: the 0.2 Å grid is
    # within 0.12 eV of the 0.1 Å one (6 neighbours: MgO 2.14 vs 1.83, MgAl2O4 0.81 vs 0.67)
    coarse = bvse_barriers(structure, "Mg")
    fine = bvse_barriers(structure, "Mg", resolution=0.1)
    assert fine.barrier_eV == pytest.approx(barrier_01, abs=0.03)
    assert abs(coarse.barrier_eV - fine.barrier_eV) < 0.12
    assert coarse.dimensionality == fine.dimensionality == 3
    six = bvse_barriers(structure, "Mg", connectivity=6)
    assert six.barrier_eV > coarse.barrier_eV


# ------------------------------------------------------------------------------ errors


def test_missing_pair_names_it_and_the_anions_there_are():
    na3n = Structure(
        Lattice.cubic(4.73),
        ["N", "Na", "Na", "Na"],
        [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )
    with pytest.raises(BVSEError, match=r"Na\+ - N3-.*softbv\.yaml.*O2-"):
        bvse_barriers(na3n, "Na", oxidation_states={"Na": 1, "N": -3})


def test_working_ion_must_be_a_cation_in_the_structure():
    structure = rock_salt("Na", "Cl", 5.640)
    with pytest.raises(BVSEError, match="working ion Li is not in NaCl"):
        bvse_barriers(structure, "Li")
    with pytest.raises(BVSEError, match="not a cation"):
        bvse_barriers(structure, "Cl")


def test_unassignable_charges_name_the_formula():
    intermetallic = Structure(Lattice.cubic(3.2), ["Na", "Mg"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(BVSEError, match="cannot assign oxidation states to NaMg"):
        bvse_barriers(intermetallic, "Na")
