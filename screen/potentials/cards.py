"""Model cards: one YAML per potential in models/, read without importing torch."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screen.records import ModelIdentity
from screen.resources import resource_dir
from screen.workflow.catalog import file_sha256

#: How a potential's energies relate to Materials Project energies (see docs/potentials.md):
#: mp2020-corrected: trained on MP2020-corrected energies (CHGNet 0.3.0): do not correct again;
#: raw-vasp: trained on raw VASP PBE(+U) energies (MACE-MP): apply MP2020 before MP hulls;
#: omat24: other DFT settings, not MP-compatible; toy: no physical meaning (tests only).
EnergyConvention = Literal["mp2020-corrected", "raw-vasp", "omat24", "toy"]


class CheckpointSource(BaseModel):
    """Where a potential's weights come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bundled", "url", "none"]
    package: str | None = Field(default=None, description="bundled: the package holding it")
    path: str | None = Field(default=None, description="bundled: path inside the package")
    url: str | None = None
    sha256: str | None = None


class ModelCard(BaseModel):
    """Everything needed to load, trust and cite a potential."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    backend: str = Field(description="entry point name in group 'screen.potentials'")
    version: str
    description: str
    source: CheckpointSource
    license: str
    training_data: str
    energy_convention: EnergyConvention
    default_dtype: Literal["float32", "float64"]
    supported_dtypes: list[Literal["float32", "float64"]]
    cutoff_angstrom: float
    citation: str
    parameters: dict[str, Any] = Field(default_factory=dict)

    def checkpoint_path(self) -> Path | None:
        """Local path of the checkpoint (bundled weights), None when there is none."""
        if self.source.kind != "bundled":
            return None
        assert self.source.package and self.source.path
        spec = importlib.util.find_spec(self.source.package)
        if spec is None or not spec.submodule_search_locations:
            raise PotentialUnavailable(
                f"model {self.name!r} ships inside the Python package "
                f"{self.source.package!r}, which is not installed: "
                f"pip install {self.source.package}"
            )
        return Path(next(iter(spec.submodule_search_locations))) / self.source.path

    def verified_checkpoint(self) -> Path | None:
        """Checkpoint path after checking its sha256 against the card."""
        path = self.checkpoint_path()
        if path is None:
            return None
        if not path.is_file():
            raise PotentialUnavailable(f"checkpoint of {self.name!r} not found at {path}")
        if self.source.sha256:
            digest = _sha256_cached(str(path), path.stat().st_mtime_ns)
            if digest != self.source.sha256:
                raise PotentialUnavailable(
                    f"checkpoint {path} of {self.name!r} has sha256 {digest}, the model card "
                    f"expects {self.source.sha256}; refusing to load a file that differs"
                )
        return path

    def identity(self) -> ModelIdentity:
        """Name, version and checkpoint sha256 (verified when the card gives one)."""
        self.verified_checkpoint()
        return ModelIdentity(name=self.name, version=self.version, sha256=self.source.sha256)


class PotentialUnavailable(RuntimeError):
    """A potential that cannot be loaded here (missing package, weights, bad checksum)."""


@functools.cache
def _sha256_cached(path: str, mtime_ns: int) -> str:
    return file_sha256(Path(path))


@functools.cache
def all_cards() -> dict[str, ModelCard]:
    """Every model card in models/, by name."""
    cards: dict[str, ModelCard] = {}
    for path in sorted(resource_dir("models").glob("*.yaml")):
        try:
            card = ModelCard.model_validate(yaml.safe_load(path.read_text()))
        except ValidationError as exc:
            raise ValueError(f"invalid model card {path}: {exc}") from None
        if card.name != path.stem:
            raise ValueError(f"model card {path} is named {card.name!r}; name it {path.stem!r}")
        cards[card.name] = card
    return cards


def get_card(name: str) -> ModelCard:
    """The card of a registered potential (KeyError names the registered ones)."""
    cards = all_cards()
    if name not in cards:
        raise KeyError(f"no model card named {name!r}; registered: {', '.join(sorted(cards))}")
    return cards[name]
