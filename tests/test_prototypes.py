"""The curated prototype library: every file reproduces its compound with sane bonds."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition

from screen.candidates.ordering import lowest_orderings
from screen.candidates.prototypes import aflow_prototypes, curated_structure, load_prototypes

NAMES = sorted(load_prototypes())


@pytest.mark.parametrize("name", NAMES)
def test_prototype_reproduces_reference_compound(name):
    proto = load_prototypes()[name]
    structure = proto.reference_structure()
    expected = Composition(proto.reference_compound).fractional_composition
    got = structure.composition.fractional_composition
    for element in expected:
        assert got[element] == pytest.approx(expected[element], abs=0.01), name
    assert set(structure.site_properties["role"]) == {s.role for s in proto.sites}
    assert proto.reference.strip() and proto.applications


@pytest.mark.parametrize("name", NAMES)
def test_prototype_bonds_are_chemical(name):
    """Every fully occupied pair is further apart than 1.3 Å (C-N of cyanides aside)."""
    structure = curated_structure(name).structure
    full = [i for i, site in enumerate(structure) if sum(site.species.values()) == 1]
    sub = structure.copy()
    sub.remove_sites([i for i in range(len(sub)) if i not in full])
    dm = sub.distance_matrix + np.eye(len(sub)) * 100
    assert dm.min() > 1.3, f"{name}: {dm.min():.2f} Å"


@pytest.mark.parametrize(
    "name", [n for n in NAMES if not curated_structure(n).structure.is_ordered]
)
def test_partial_prototypes_order_into_whole_cells(name):
    proto = curated_structure(name)
    mapping = {r: None for r in proto.roles}
    orderings = lowest_orderings(proto.substituted({k: v for k, v in mapping.items() if v}), 2)
    assert orderings and all(s.is_ordered for s in orderings)
    for s in orderings:
        assert all(sum(site.species.values()) == 1 for site in s)


def test_aflow_library_gives_ionic_prototypes():
    protos = aflow_prototypes()
    assert len(protos) > 20
    rocksalt = [p for p in protos.values() if "AB_cF8_225_a_b" in p.name]
    assert rocksalt and {s.kind for s in rocksalt[0].roles.values()} == {"cation", "anion"}
