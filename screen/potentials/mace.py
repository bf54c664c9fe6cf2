"""MACE adapter (mace-torch): foundation models from the cache, or a local .model file.

MACE model files are whole pickled torch modules: loading one runs code. Only files whose
sha256 matches a model card, or files the user names explicitly, are loaded. The model's
dtype is set on the model itself (``model.float()`` / ``model.double()``) and graphs are
built inside ``mace.tools.torch_tools.default_dtype``, which restores the process-wide
default afterwards (never ``torch.set_default_dtype``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from screen.potentials.base import Evaluation
from screen.potentials.cards import ModelCard
from screen.potentials.weights import verified_checkpoint, verified_identity
from screen.records import ModelIdentity

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms


def load_mace_module(path: str, device: str, dtype: str) -> Any:
    """Unpickle a MACE model on ``device`` in ``dtype``, frozen for inference."""
    import mace  # noqa: F401  (must precede e3nn: it fixes torch.load for e3nn 0.4.4)
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.load(path, map_location=device, weights_only=False)
    model = model.double() if dtype == "float64" else model.float()
    model = model.to(device)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


class MACEPotential:
    """A MACE model evaluated on batches of structures (one graph batch per call)."""

    def __init__(self, card: ModelCard, device: str = "cpu", dtype: str = "float32"):
        from mace.tools import utils

        path = verified_checkpoint(card)
        self.card = card
        self.device = device
        self.dtype = dtype
        self.model = load_mace_module(str(path), device, dtype)
        self.z_table = utils.AtomicNumberTable([int(z) for z in self.model.atomic_numbers])
        self.r_max = float(self.model.r_max)
        self.heads = list(getattr(self.model, "heads", None) or ["Default"])
        self._identity = verified_identity(card)

    @property
    def identity(self) -> ModelIdentity:
        """Name, version and checkpoint sha256."""
        return self._identity

    def _batch(self, systems: Sequence[Atoms]) -> Any:
        from mace import data
        from mace.tools import torch_geometric, torch_tools

        head = self.heads[-1] if "Default" not in self.heads else "Default"
        with torch_tools.default_dtype(self.dtype):
            graphs = [
                data.AtomicData.from_config(
                    data.config_from_atoms(atoms, head_name=head),
                    z_table=self.z_table,
                    cutoff=self.r_max,
                    heads=self.heads,
                )
                for atoms in systems
            ]
        return torch_geometric.Batch.from_data_list(graphs).to(self.device)

    def evaluate(self, systems: Sequence[Atoms]) -> Evaluation:
        """Energy (eV), forces (eV/Å) and stress (eV/Å³, ASE sign) of each structure."""
        batch = self._batch(systems)
        out = self.model(batch.to_dict(), compute_force=True, compute_stress=True)
        energy = out["energy"].detach().cpu().numpy().astype(float)
        forces = out["forces"].detach().cpu().numpy().astype(float)
        stress = out["stress"].detach().cpu().numpy().astype(float)
        bounds = batch.ptr.cpu().numpy()
        per_structure = [forces[bounds[k] : bounds[k + 1]] for k in range(len(systems))]
        return Evaluation(energy=energy, forces=per_structure, stress=np.asarray(stress))
