"""Load potentials by model-card name through the ``screen.potentials`` entry points.

Built-in backends (CHGNet, Lennard-Jones) register through the same entry-point group a
third-party package would use, in pyproject.toml.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from screen.potentials.base import Potential, resolve_device
from screen.potentials.cards import ModelCard, PotentialUnavailable, get_card
from screen.potentials.weights import verified_identity

ENTRY_POINT_GROUP = "screen.potentials"


def backend_factory(backend: str) -> Any:
    """The class registered for a backend name."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == backend]
    if not found:
        names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise PotentialUnavailable(
            f"no potential backend {backend!r} in entry-point group {ENTRY_POINT_GROUP!r} "
            f"(found: {', '.join(names) or 'none'}); is batscreen installed (pip install -e .)?"
        )
    return found[0].load()


def load_potential(
    name: str | ModelCard = "chgnet-0.3.0", device: str = "auto", dtype: str | None = None
) -> Potential:
    """Instantiate a potential from its model card.

    Args:
        name: model card name (``batscreen models list``) or a card.
        device: 'auto', 'cpu' or 'cuda'.
        dtype: 'float32' or 'float64'; default: the card's.
    """
    card = name if isinstance(name, ModelCard) else get_card(name)
    dtype = dtype or card.default_dtype
    if dtype not in card.supported_dtypes:
        raise PotentialUnavailable(
            f"{card.name} supports {', '.join(card.supported_dtypes)}, not {dtype}"
        )
    factory = backend_factory(card.backend)
    potential: Potential = factory(card, device=resolve_device(device), dtype=dtype)
    return potential


@dataclass(frozen=True)
class PotentialSource:
    """What loads a potential in another process: its card, the device, the dtype."""

    card: ModelCard
    device: str = "auto"
    dtype: str | None = None

    def load(self) -> Potential:
        """The potential itself (weights verified against the card)."""
        return load_potential(self.card, device=self.device, dtype=self.dtype)


class DeferredPotential:
    """A potential whose card and identity are known now and whose model loads on first use.

    Lets a resumed campaign skip loading weights when nothing needs evaluating.
    """

    def __init__(self, name: str | ModelCard, device: str = "auto", dtype: str | None = None):
        self.card = name if isinstance(name, ModelCard) else get_card(name)
        self.device = device
        self.dtype = dtype or self.card.default_dtype
        self._identity = verified_identity(self.card)
        self._loaded: Potential | None = None

    @property
    def identity(self) -> Any:
        """Name, version and checkpoint sha256 (verified)."""
        return self._identity

    @property
    def source(self) -> PotentialSource:
        """What a worker process needs to load the same potential."""
        return PotentialSource(self.card, self.device, self.dtype)

    def load(self) -> Potential:
        """The real potential (loaded once)."""
        if self._loaded is None:
            self._loaded = load_potential(self.card, device=self.device, dtype=self.dtype)
        return self._loaded

    def evaluate(self, systems: Any) -> Any:
        """Delegate to the loaded potential."""
        return self.load().evaluate(systems)
