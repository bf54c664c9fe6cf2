"""The curated prototype library: every file reproduces its compound with sane bonds."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize("name", NAMES)
def test_every_known_member_scores_one_against_its_family(name):
    """A member is judged against itself: likelihood exactly 1, itself the nearest."""
    from screen.candidates.likelihood import family_likelihood
    from screen.candidates.prototypes import member_content, role_composition

    proto = curated_structure(name)
    assert len(proto.members) >= 2, f"{name}: a family needs several known members"
    for member in proto.members:
        content = member_content(proto, member)
        assert content is not None, member.formula
        composition = role_composition(proto.with_content(content), member.roles)
        got = family_likelihood(proto.with_content(content), member.roles, composition)
        assert got.value == pytest.approx(1.0), member.formula
        assert member.source.strip()


def _write_prototype(tmp_path, name, **changes):
    import yaml

    from screen.resources import resource_dir

    src = resource_dir("candidates") / "prototypes" / f"{name}.yaml"
    data = yaml.safe_load(src.read_text())
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_known_member_that_contradicts_its_roles_is_refused_by_name(tmp_path):
    from screen.candidates.prototypes import PrototypeError, read_prototype

    def members(*extra):
        good = {"formula": "MgAl2O4", "roles": {"A": "Mg", "M": "Al", "X": "O"}, "source": "s"}
        return [good, *extra]

    cases = {
        "roles ['A', 'M']": {"formula": "MgAl2", "roles": {"A": "Mg", "M": "Al"}, "source": "s"},
        "role X allows O, S, Se, not Te": {
            "formula": "MgAl2Te4",
            "roles": {"A": "Mg", "M": "Al", "X": "Te"},
            "source": "s",
        },
        "role A is the working ion": {
            "formula": "CoAl2O4",
            "roles": {"A": "Co", "M": "Al", "X": "O"},
            "source": "s",
        },
    }
    for message, bad in cases.items():
        path = _write_prototype(tmp_path, "spinel-AM2X4", known_members=members(bad))
        with pytest.raises(PrototypeError, match=r"spinel-AM2X4\.yaml") as err:
            read_prototype(path)
        assert bad["formula"] in str(err.value) and message in str(err.value)
    # the formula must be the roles filled in, and charge balanced: checked when built
    from screen.candidates.prototypes import check_member_formulas

    proto = curated_structure("spinel-AM2X4")
    wrong = dataclasses_replace(proto, "MgAl3O4", {"A": "Mg", "M": "Al", "X": "O"})
    with pytest.raises(
        PrototypeError, match=r"known_members\[0\] \(MgAl3O4\).*fill the prototype as MgAl2O4"
    ):
        check_member_formulas(wrong, "spinel-AM2X4.yaml")
    unbalanced = dataclasses_replace(proto, "MgNa2O4", {"A": "Mg", "M": "Na", "X": "O"})
    with pytest.raises(PrototypeError, match="no charge-balanced oxidation states"):
        check_member_formulas(unbalanced, "spinel-AM2X4.yaml")
    olivine = _write_prototype(
        tmp_path,
        "olivine-AMTO4",
        known_members=[
            {"formula": "LiFeCO4", "roles": {"A": "Li", "M": "Fe", "T": "C"}, "source": "s"}
        ],
    )
    with pytest.raises(PrototypeError, match="tetrahedral polyanion centre"):
        read_prototype(olivine)


def dataclasses_replace(proto, formula, roles):
    import dataclasses

    from screen.candidates.prototypes import KnownMember

    return dataclasses.replace(
        proto, members=(KnownMember(formula=formula, roles=roles, source="s"),)
    )


def test_chevrel_hosts_generate_one_and_two_guests():
    from screen.candidates.generate import generate
    from screen.workflow.spec import ChemicalSpace, GenerateParams

    space = ChemicalSpace(
        working_ions=["Mg"],
        framework_cations=["Mo"],
        anions=["S"],
        prototypes=["chevrel-AMo6X8"],
        critical_policy="working-ion-exempt",
    )
    records = [r for r in generate(space, GenerateParams()) if r.active]
    by_mg = {Composition(r.formula)["Mg"] / Composition(r.formula)["Mo"] * 6: r for r in records}
    assert sorted(by_mg) == pytest.approx([1.0, 2.0])  # MgMo6S8 and Mg2Mo6S8
    assert by_mg[2.0].provenance["recipe"]["working_ion_content"] == 2.0
    assert "working_ion_content" not in by_mg[1.0].provenance["recipe"]


def test_the_recall_benchmark_list_is_sourced_valid_and_held_out():
    """benchmarks/data/known-compounds.yaml: >= 100 synthesised compounds, each with a
    source, each filling its prototype's roles to its formula with charge balance, and
    none a known member the likelihood uses."""
    import dataclasses

    import yaml

    from screen.candidates.prototypes import (
        KnownMember,
        check_member_formulas,
        check_members,
    )

    path = Path(__file__).resolve().parents[1] / "benchmarks/data/known-compounds.yaml"
    compounds = yaml.safe_load(path.read_text())["compounds"]
    assert len(compounds) >= 100
    families = {c["prototype"] for c in compounds}
    assert families == set(NAMES)
    for c in compounds:
        assert c["source"].strip(), c["formula"]
        member = KnownMember(formula=c["formula"], roles=c["roles"], source=c["source"])
        proto = load_prototypes()[c["prototype"]]
        check_members(proto.model_copy(update={"known_members": [member]}), str(path))
        built = curated_structure(c["prototype"])
        check_member_formulas(dataclasses.replace(built, members=(member,)), str(path))
        for known in built.members:
            same = known.roles == member.roles and Composition(known.formula).almost_equals(
                Composition(member.formula)
            )
            assert not same, f"{c['formula']} is a known member of {c['prototype']}"
