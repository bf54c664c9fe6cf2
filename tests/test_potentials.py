"""Potential registry and the conformance kit (which must catch broken potentials)."""

from __future__ import annotations

import numpy as np
import pytest

from screen.potentials.base import Evaluation
from screen.potentials.cards import PotentialUnavailable, all_cards, get_card
from screen.potentials.registry import load_potential
from screen.testing import check_potential, conformance_systems


def test_registry_lists_cards_with_energy_conventions():
    cards = all_cards()
    assert cards["chgnet-0.3.0"].energy_convention == "mp2020-corrected"
    assert cards["lennard-jones-toy"].energy_convention == "toy"
    with pytest.raises(KeyError, match=r"registered: chgnet-0\.3\.0"):
        get_card("mace-mp-0-nonexistent")


def test_lennard_jones_passes_conformance(lj):
    check_potential(lj)


def test_chgnet_passes_conformance(chgnet):
    check_potential(chgnet)
    assert chgnet.identity.sha256 == get_card("chgnet-0.3.0").source.sha256


class _Broken:
    """Wraps a potential and corrupts one output."""

    def __init__(self, inner, corrupt):
        self.inner, self.corrupt = inner, corrupt
        self.card, self.device, self.dtype = inner.card, inner.device, inner.dtype

    @property
    def identity(self):
        return self.inner.identity

    def evaluate(self, systems):
        return self.corrupt(self.inner.evaluate(systems))


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda e: Evaluation(e.energy, [-f for f in e.forces], e.stress), "force on atom"),
        (lambda e: Evaluation(e.energy, e.forces, -e.stress), "stress"),
        (lambda e: Evaluation(e.energy, [f[:-1] for f in e.forces], e.stress), "forces shape"),
    ],
)
def test_conformance_kit_catches_broken_potentials(lj, corrupt, message):
    with pytest.raises(AssertionError, match=message):
        check_potential(_Broken(lj, corrupt))


def test_conformance_kit_catches_batch_dependence(lj):
    def depends_on_batch(e):
        return Evaluation(e.energy + 0.01 * len(e.energy), e.forces, e.stress)

    with pytest.raises(AssertionError, match="batch energy differs"):
        check_potential(_Broken(lj, depends_on_batch))


def test_default_dtype_check_catches_global_change(lj):
    import torch

    class Sloppy(_Broken):
        def evaluate(self, systems):
            torch.set_default_dtype(torch.float64)
            return self.inner.evaluate(systems)

    try:
        with pytest.raises(AssertionError, match="default dtype changed"):
            check_potential(Sloppy(lj, None))
    finally:
        torch.set_default_dtype(torch.float32)


def test_corrupt_checkpoint_is_refused(tmp_path):
    card = get_card("chgnet-0.3.0")
    bad = card.model_copy(update={"source": card.source.model_copy(update={"sha256": "0" * 64})})
    with pytest.raises(PotentialUnavailable, match="refusing to load"):
        load_potential(bad)


def test_unsupported_dtype_is_refused():
    with pytest.raises(PotentialUnavailable, match="supports float32"):
        load_potential("chgnet-0.3.0", dtype="float64")


def test_lennard_jones_dimer_minimum_at_sum_of_radii(lj):
    from ase import Atoms

    r = np.linspace(2.0, 3.6, 801)
    energies = [
        lj.evaluate(
            [Atoms("NaCl", positions=[[0, 0, 0], [d, 0, 0]], cell=[20] * 3, pbc=True)]
        ).energy[0]
        for d in r
    ]
    assert r[int(np.argmin(energies))] == pytest.approx(1.8 + 1.0, abs=0.005)  # R_Na + R_Cl


def test_conformance_systems_are_reproducible():
    a, b = conformance_systems(3), conformance_systems(3)
    assert all(np.allclose(x.positions, y.positions) for x, y in zip(a, b, strict=True))
