"""Model cards: one YAML per potential in models/, read without importing torch."""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screen.checksums import file_sha256_cached
from screen.resources import resource_dir

#: How a potential's energies relate to Materials Project energies (docs/estimators.md):
#: mp2020-corrected: trained on MP2020-corrected energies (CHGNet 0.3.0): do not correct again;
#: raw-vasp: trained on raw VASP PBE(+U) energies (MACE-MP): apply MP2020 before MP hulls;
#: omat24: other DFT settings, not MP-compatible; toy: no physical meaning (tests only).
EnergyConvention = Literal["mp2020-corrected", "raw-vasp", "omat24", "toy"]


class CheckpointSource(BaseModel):
    """Where a potential's weights come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bundled", "url", "file", "none"]
    package: str | None = Field(default=None, description="bundled: the package holding it")
    path: str | None = Field(
        default=None, description="bundled: path inside the package; file: the local file"
    )
    url: str | None = Field(default=None, description="url: where `batscreen models fetch` gets it")
    sha256: str | None = Field(
        default=None, description="pinned checksum; url cards without one trust the first download"
    )
    sha256_source: str | None = Field(
        default=None, description="where the pinned checksum comes from"
    )


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
    hull_mae_eV_per_atom: float | None = Field(
        default=None,
        ge=0,
        description="mean absolute error of the energy above the hull on Matbench Discovery "
        "(unique prototypes); sets the uncertainty of hull distances (sigma = MAE sqrt(pi/2))",
    )
    parameters: dict[str, Any] = Field(default_factory=dict)

    def hull_sigma(self) -> float | None:
        """Standard uncertainty of a hull distance (eV/atom), None without a benchmark.

        For a Gaussian error whose mean absolute value is the benchmark MAE.
        """
        if self.hull_mae_eV_per_atom is None:
            return None
        return round(self.hull_mae_eV_per_atom * math.sqrt(math.pi / 2.0), 4)

    @classmethod
    def for_file(
        cls,
        path: Path,
        *,
        backend: str,
        energy_convention: str,
        default_dtype: str = "float64",
    ) -> ModelCard:
        """A card for a local weights file the user names (e.g. a fine-tuned MACE)."""
        path = Path(path).resolve()
        if not path.is_file():
            raise PotentialUnavailable(f"model file {path} does not exist")
        digest = file_sha256_cached(path)
        return cls(
            name=f"file:{path.name}",
            backend=backend,
            version=digest[:12],
            description=f"local model file {path}",
            source=CheckpointSource(kind="file", path=str(path), sha256=digest),
            license="as stated by its author",
            training_data="as stated by its author",
            energy_convention=energy_convention,  # type: ignore[arg-type]  # checked by pydantic
            default_dtype=default_dtype,  # type: ignore[arg-type]
            supported_dtypes=["float32", "float64"],
            cutoff_angstrom=0.0,
            citation=f"local file, sha256 {digest}",
        )


class PotentialUnavailable(RuntimeError):
    """A potential that cannot be loaded here (missing package, weights, bad checksum)."""


def card_dirs() -> list[Path]:
    """models/ plus the folders named in $BATSCREEN_MODELS_PATH (colon-separated)."""
    extra = [Path(p) for p in os.environ.get("BATSCREEN_MODELS_PATH", "").split(os.pathsep) if p]
    return [resource_dir("models"), *extra]


def all_cards() -> dict[str, ModelCard]:
    """Every model card, by name."""
    return _cards(tuple(str(d) for d in card_dirs()))


@functools.cache
def _cards(dirs: tuple[str, ...]) -> dict[str, ModelCard]:
    cards: dict[str, ModelCard] = {}
    for folder in dirs:
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                card = ModelCard.model_validate(yaml.safe_load(path.read_text()))
            except ValidationError as exc:
                raise ValueError(f"invalid model card {path}: {exc}") from None
            if card.name != path.stem:
                raise ValueError(f"model card {path} is named {card.name!r}; name it {path.stem!r}")
            if card.name in cards:
                raise ValueError(f"model card {card.name!r} defined twice ({path})")
            cards[card.name] = card
    return cards


def get_card(name: str) -> ModelCard:
    """The card of a registered potential (KeyError names the registered ones)."""
    cards = all_cards()
    if name not in cards:
        raise KeyError(f"no model card named {name!r}; registered: {', '.join(sorted(cards))}")
    return cards[name]
