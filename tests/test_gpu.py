"""GPU checks (marker gpu): skipped without CUDA; run by benchmarks/gpu/run.sh on a lent GPU."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def tiny_mace_card(tmp_path_factory):
    from screen.potentials.cards import ModelCard
    from screen.testing import build_random_mace

    path = tmp_path_factory.mktemp("w") / "tiny.model"
    build_random_mace(str(path), "tiny", atomic_numbers=[3, 8, 9, 11, 12, 17, 26])
    return ModelCard.for_file(path, backend="mace", energy_convention="toy")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mace_conformance_on_cuda(tiny_mace_card, dtype):
    from screen.potentials.registry import load_potential
    from screen.testing import check_potential

    check_potential(load_potential(tiny_mace_card, device="cuda", dtype=dtype))


def test_chgnet_conformance_on_cuda():
    from screen.potentials.registry import load_potential
    from screen.testing import check_potential

    check_potential(load_potential("chgnet-0.3.0", device="cuda"))


def test_engine_on_cuda_matches_cpu(tiny_mace_card):
    from ase.build import bulk

    from screen.potentials.registry import load_potential
    from screen.relaxation.engine import relax_many
    from screen.workflow.params import RelaxParams

    rng = np.random.default_rng(0)
    cells = []
    for formula, a in (("NaCl", 5.64), ("MgO", 4.21), ("NaF", 4.63)):
        atoms = bulk(formula, "rocksalt", a=a, cubic=True)
        atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
        cells.append(atoms)
    params = RelaxParams(fmax=0.02, smax_gpa=0.05)
    cpu = relax_many(cells, load_potential(tiny_mace_card, "cpu", "float64"), params)
    gpu = relax_many(
        cells, load_potential(tiny_mace_card, "cuda", "float64"), params, max_batch_atoms=1000
    )
    for a, b in zip(cpu, gpu, strict=True):
        assert abs(a.energy_ev - b.energy_ev) / len(a.atoms) < 1e-4


def test_batched_md_on_cuda_matches_cpu_for_the_first_steps(tiny_mace_card):
    """Same seed, same potential: GPU and CPU trajectories agree until chaos sets in."""
    from ase.build import bulk

    from screen.potentials.registry import load_potential
    from screen.transport.md import LangevinSettings, MDSystem, run_langevin

    settings = LangevinSettings(production_steps=10, equilibration_steps=0, sample_every=5)

    def systems():
        cells = [bulk("NaCl", "rocksalt", a=5.64, cubic=True), bulk("MgO", "rocksalt", a=4.21)]
        return [MDSystem(f"s{k}", atoms.repeat(2), t) for k, atoms in enumerate(cells)
                for t in (600.0, 1000.0)]  # fmt: skip

    out = {}
    for device in ("cpu", "cuda"):
        potential = load_potential(tiny_mace_card, device=device, dtype="float64")
        out[device] = run_langevin(systems(), potential, settings, max_batch_atoms=10_000)
    for cpu, gpu in zip(out["cpu"], out["cuda"], strict=True):
        assert cpu.error is None and gpu.error is None
        np.testing.assert_allclose(gpu.positions, cpu.positions, atol=1e-6)
