"""The Potential protocol every backend implements, and an ASE calculator over it.

A potential evaluates a batch of structures in one call and returns energy per structure
(eV), forces per atom (eV/Å) and stress per structure (eV/Å³, ASE sign convention:
positive = tensile, i.e. stress = (1/V) dE/dstrain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.cards import ModelCard
    from screen.records import ModelIdentity


@dataclass
class Evaluation:
    """Results of one batched evaluation of ``n`` structures."""

    energy: np.ndarray  # (n,) eV
    forces: list[np.ndarray]  # n arrays of shape (atoms_i, 3), eV/Å
    stress: np.ndarray  # (n, 3, 3) eV/Å³, ASE sign convention

    def __post_init__(self) -> None:
        n = len(self.energy)
        if len(self.forces) != n or self.stress.shape != (n, 3, 3):
            raise ValueError(
                f"inconsistent evaluation: {n} energies, {len(self.forces)} force arrays, "
                f"stress of shape {self.stress.shape}"
            )


@runtime_checkable
class Potential(Protocol):
    """What the relaxation engine and estimators need from a potential."""

    card: ModelCard
    device: str
    dtype: str

    @property
    def identity(self) -> ModelIdentity:
        """Name, version and checkpoint sha256, recorded with every value it produces."""
        ...

    def evaluate(self, systems: Sequence[Atoms]) -> Evaluation:
        """Energy, forces and stress of every structure in one batched call."""
        ...


def make_calculator(potential: Potential) -> Any:
    """An ASE calculator that evaluates one structure with ``potential``."""
    from ase.calculators.calculator import Calculator, all_changes

    class PotentialCalculator(Calculator):
        # ASE declares this a list attribute of the class
        implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

        def __init__(self) -> None:
            super().__init__()
            self.potential = potential

        def calculate(
            self,
            atoms: Atoms | None = None,
            properties: Sequence[str] = ("energy",),
            system_changes: Sequence[str] = tuple(all_changes),
        ) -> None:
            super().calculate(atoms, properties, system_changes)
            assert self.atoms is not None
            result = self.potential.evaluate([self.atoms])
            energy = float(result.energy[0])
            stress = result.stress[0]
            self.results = {
                "energy": energy,
                "free_energy": energy,
                "forces": np.asarray(result.forces[0], dtype=float),
                "stress": np.array(
                    [
                        stress[0, 0],
                        stress[1, 1],
                        stress[2, 2],
                        stress[1, 2],
                        stress[0, 2],
                        stress[0, 1],
                    ]
                ),
            }

    return PotentialCalculator()


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a device (or host) out-of-memory error of torch."""
    text = str(exc).lower()
    return "out of memory" in text or type(exc).__name__ == "OutOfMemoryError"


def empty_device_cache() -> None:
    """Hand cached GPU memory back (after an out-of-memory error); nothing without CUDA."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
