"""CHGNet adapter (weights bundled in the chgnet wheel; float32 only)."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from screen.potentials.base import Evaluation
from screen.potentials.cards import ModelCard
from screen.potentials.weights import verified_checkpoint, verified_identity
from screen.records import ModelIdentity

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

_EV_PER_A3_PER_GPA = 1.0 / 160.21766208  # ase.units.GPa


class CHGNetPotential:
    """CHGNet evaluated in batches through its graph converter."""

    def __init__(self, card: ModelCard, device: str = "cpu", dtype: str = "float32"):
        if dtype != "float32":
            raise ValueError("CHGNet runs in float32 only")
        path = verified_checkpoint(card)
        from chgnet.model import CHGNet

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # banner and torch.load notices
            model = CHGNet.from_file(str(path), mlp_out_bias=False, version=card.version)
        self.model = model.to(device)
        self.model.eval()
        self.card = card
        self.device = device
        self.dtype = dtype
        self.batch_size = int(card.parameters.get("batch_size", 16))
        self._identity = verified_identity(card)

    @property
    def identity(self) -> ModelIdentity:
        """Name, version and checkpoint sha256."""
        return self._identity

    def evaluate(self, systems: Sequence[Atoms]) -> Evaluation:
        """Energy (eV), forces (eV/Å) and stress (eV/Å³) of each structure."""
        from pymatgen.io.ase import AseAtomsAdaptor

        structures = [AseAtomsAdaptor.get_structure(atoms) for atoms in systems]
        with warnings.catch_warnings():
            # CHGNet warns on every call about requires_grad on an internal tensor
            warnings.filterwarnings("ignore", message=".*requires_grad.*")
            warnings.filterwarnings("ignore", message=".*tensor.detach.*")
            preds = self.model.predict_structure(structures, task="efs", batch_size=self.batch_size)
        if isinstance(preds, dict):
            preds = [preds]
        natoms = np.array([len(s) for s in structures], dtype=float)
        energy = np.array([float(p["e"]) for p in preds], dtype=float) * natoms
        forces = [np.asarray(p["f"], dtype=float) for p in preds]
        # CHGNet stress: GPa, ASE sign convention (checked against finite strain in tests)
        stress = np.stack([np.asarray(p["s"], dtype=float) for p in preds]) * _EV_PER_A3_PER_GPA
        return Evaluation(energy=energy, forces=forces, stress=stress)
