"""Ionic transport with CHGNet, checked against known conductors (slow).

Na3PS4 is a fast Na+ conductor (experimental Ea about 0.2-0.3 eV); rock-salt NaCl a poor
one (Na-vacancy migration about 0.7 eV). Stoichiometric Na3PS4 conducts through defects
(Zhu, Chu, Deng & Ong, Chem. Mater. 27, 8318 (2015)), so both cells get one Na vacancy,
as in the usual ab initio MD of these materials; the comparison is then between the
frameworks' migration barriers.
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
