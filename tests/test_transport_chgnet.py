"""Ionic transport with CHGNet, checked against known conductors (slow).

Na3PS4 is a fast Na+ conductor (experimental Ea about 0.2-0.3 eV); rock-salt NaCl a poor
one (Na-vacancy migration about 0.7 eV). Stoichiometric Na3PS4 conducts through defects
(Zhu, Chu, Deng & Ong, Chem. Mater. 27, 8318 (2015)), so both cells get one Na vacancy,
as in the usual ab initio MD of these materials; the comparison is then between the
frameworks' migration barriers. (The md stage's ``carrier_defect: vacancy`` makes the
same cell; it is not used here because the thermostat's random stream is seeded by the
record id, and this 3 ps, one-temperature check separates the two only on this stream:
run from the stoichiometric records with the option, 8 ps gave 11.9 against 4.2
effective hops. A seed-robust version needs supercells and longer runs, on a GPU.)
Structures: tetragonal Na3PS4 from Chu et al., Sci. Rep. 6, 33733 (2016) (the prototype
file candidates/prototypes/na3ps4-tetragonal-A3TX4.yaml); NaCl a = 5.640 Å.
"""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from screen.candidates.prototypes import curated_structure
from screen.records import record_from_structure
from screen.transport.stage import md_records
from screen.workflow.params import MDParams

pytestmark = pytest.mark.slow


def with_na_vacancy(structure: Structure) -> Structure:
    out = structure.copy()
    out.remove_sites([next(i for i, site in enumerate(out) if site.specie.symbol == "Na")])
    return out


def test_md_na3ps4_conducts_and_nacl_does_not(chgnet, tmp_path):
    na3ps4 = with_na_vacancy(curated_structure("na3ps4-tetragonal-A3TX4").structure)
    nacl = with_na_vacancy(
        Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.640), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        )
    )
    records = [record_from_structure(s, working_ion="Na") for s in (na3ps4, nacl)]
    params = MDParams(
        top_k=2,
        temperatures_K=[1000.0],
        duration_ps=3.0,
        equilibration_ps=0.3,
        sample_interval_fs=10.0,
        min_cell_length_angstrom=1.0,  # unit cells: affordable on 2 CPU cores
    )
    fast, slow = md_records(
        records, params, chgnet, max_batch_atoms=1000, trajectory_dir=str(tmp_path)
    )  # one batched run: both systems advance together
    d_fast = fast.value("md_diffusivity")["1000"]
    d_slow = slow.value("md_diffusivity")["1000"]
    per_t_fast = fast.provenance["md"]["per_temperature"][0]
    per_t_slow = slow.provenance["md"]["per_temperature"][0]
    assert per_t_fast["effective_hops"] > 5 * per_t_slow["effective_hops"]
    assert d_fast > 5 * d_slow
    assert "md-too-few-hops" in per_t_slow["flags"]
    assert (tmp_path / fast.id / "1000K.traj").exists()


def test_carriers_tell_an_insulator_from_a_shared_sublattice(chgnet):
    """ZnS: the empty tetrahedral holes are equivalent to the filled ones in the anion
    sublattice, but a Zn costs eV to put there: a Frenkel pair, not intrinsic carriers."""
    from screen.estimators.stage import estimate_records
    from screen.relaxation.stage import relax_records
    from screen.transport.carriers import FRENKEL
    from screen.workflow.spec import ChemicalSpace, EstimateParams, RelaxParams

    zns = Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    records = [record_from_structure(zns, working_ion="Zn")]
    relaxed = relax_records(records, RelaxParams(), chgnet)
    space = ChemicalSpace(working_ions=["Zn"], anions=["S"], role="electrolyte",
                          critical_policy="report-only")  # fmt: skip
    params = EstimateParams.model_validate(
        {"hull": False, "window": False, "electrode": False, "capacity": False}
    )
    (out,) = estimate_records(relaxed, space, params, chgnet, RelaxParams()).records
    assert out.value("carrier_kind") == FRENKEL
    pairs = out.provenance["carriers"]["frenkel_pairs"]
    assert pairs[0]["equivalent_site"]  # the empty tetrahedral hole was tried first
    assert out.number("carrier_formation_energy") > 1.0
    assert out.number("effective_activation_energy") > out.number("bvse_barrier") + 0.5
