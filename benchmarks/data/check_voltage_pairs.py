"""Build and sanity-check every discharged structure in voltage-pairs.yaml (pymatgen only).

    .venv/bin/python benchmarks/data/check_voltage_pairs.py [path/to/voltage-pairs.yaml]

Per entry: sites, composition per formula unit (must match discharged_formula), oxidation
guess, shortest cation-anion (d_ca, flag < 1.5 Å) and any-pair (d_min, flag < 1.0 Å) distances
(two partial sites are alternatives: d_alt is only shown), density. Bad input stops naming the
entry and field; a flagged distance gives exit status 1.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.symmetry.groups import SpaceGroup

DATA = Path(__file__).resolve().parent / "voltage-pairs.yaml"
ANIONS = {"O", "S", "Se", "Te", "F", "Cl", "N"}
IONS = {"Li", "Na", "K", "Mg", "Ca", "Zn", "Al"}
LATTICE = ("a", "b", "c", "alpha", "beta", "gamma")
COLUMNS = "entry:<28 ion:<3 x:>4 sites:>5 formula/f.u.:<18 oxidation_guess:<30 d_ca:>5 d_min:>5"


class EntryError(ValueError):
    def __init__(self, name: str, field: str, msg: str) -> None:
        super().__init__(f"entry {name!r}, field {field!r}: {msg}")


def build(entry: dict[str, Any]) -> Structure:
    name, st = str(entry.get("name", "?")), entry.get("structure")
    st = st if isinstance(st, dict) else {}
    for key in ("space_group", "lattice", "sites", "reference", "coordinates"):
        if not st.get(key):
            raise EntryError(name, f"structure.{key}", "missing")
    if st["coordinates"] not in ("refined", "approximate"):
        raise EntryError(name, "structure.coordinates", "must be refined or approximate")
    try:
        group = SpaceGroup(st["space_group"])
        lattice = Lattice.from_parameters(*(float(st["lattice"][k]) for k in LATTICE))
    except (KeyError, TypeError, ValueError) as exc:
        raise EntryError(name, "structure.space_group/lattice", str(exc)) from exc
    species, coords = [], []
    for i, site in enumerate(st["sites"]):
        field = f"structure.sites[{i}]"
        try:  # a non-mapping site, a bad species/occupancy or bad xyz all land here
            sp = site["species"]
            occ = {el: float(v) for el, v in ({sp: 1} if isinstance(sp, str) else sp).items()}
            xyz, wyckoff = [float(x) for x in site["xyz"]], str(site.get("wyckoff"))
            if len(xyz) != 3 or not 0 < sum(occ.values()) <= 1 + 1e-6:
                raise ValueError("need 3 coordinates and a total occupancy in (0, 1]")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise EntryError(name, field, f"{exc}: {site!r}") from exc
        mult, orbit = re.fullmatch(r"(\d+)[a-z]", wyckoff), group.get_orbit(xyz)
        if mult is None or int(mult.group(1)) != len(orbit):
            msg = f"{wyckoff!r} but the orbit of {xyz} has {len(orbit)} sites"
            raise EntryError(name, f"{field}.wyckoff", msg)
        species.append(occ)
        coords.append(xyz)
    try:
        return Structure.from_spacegroup(st["space_group"], lattice, species, coords)
    except ValueError as exc:
        raise EntryError(name, "structure", f"from_spacegroup failed: {exc}") from exc


def check_fields(entry: dict[str, Any], struct: Structure) -> Composition:
    name, ion, exp = str(entry.get("name")), entry.get("working_ion"), entry.get("experiment")
    try:
        target = Composition(entry["discharged_formula"])
    except (KeyError, ValueError) as exc:
        raise EntryError(name, "discharged_formula", str(exc)) from exc
    exp, x = exp if isinstance(exp, dict) else {}, entry.get("ions_removed_per_formula")
    frac = struct.composition.fractional_composition
    ok_x = isinstance(x, (int, float)) and ion in IONS and 0 < x <= target[ion]
    rules = {
        "working_ion": ion in IONS,
        "discharged_formula": frac.almost_equals(target.fractional_composition, 0, 1e-4),
        "ions_removed_per_formula": ok_x,
        "experiment.average_voltage_v": isinstance(exp.get("average_voltage_v"), (int, float)),
        "experiment.reference": bool(exp.get("reference")),
        "contested": isinstance(entry.get("contested"), bool),
    }
    for field, ok in rules.items():
        if not ok:
            value = exp.get(field[11:]) if field.startswith("experiment.") else entry.get(field)
            raise EntryError(name, field, f"invalid value {value!r} (built: {struct.composition})")
    return target


def distances(struct: Structure) -> list[float]:
    """Shortest cation-anion, any-pair (not both partial) and partial-partial distances."""
    best = [99.0] * 3
    full = [site.species.num_atoms > 1 - 1e-6 for site in struct]
    anion = [{e.symbol for e in site.species} <= ANIONS for site in struct]
    cent, pts, _, dist = struct.get_neighbor_list(3.0)
    for i, j, d in zip(cent, pts, dist, strict=True):
        if anion[i] != anion[j]:
            best[0] = min(best[0], d)
        kind = 1 if full[i] or full[j] else 2
        best[kind] = min(best[kind], d)
    return best


def main(path: Path) -> int:
    cols = [c.split(":") for c in (COLUMNS + " d_alt:>5 rho:>5").split()]
    print(" ".join(f"{name:{fmt}}" for name, fmt in cols) + "  flags")
    entries, flagged = yaml.safe_load(path.read_text())["entries"], 0
    for entry in entries:
        struct = build(entry)
        target, comp = check_fields(entry, struct), struct.composition
        per_fu = " ".join(
            f"{el}{n * target.num_atoms / comp.num_atoms:.4g}" for el, n in comp.items()
        )
        guess = target.oxi_state_guesses()
        oxi = " ".join(f"{el}{v:+.2g}" for el, v in guess[0].items()) if guess else "none"
        d_ca, d_min, d_alt = distances(struct)
        dists = " ".join(f"{d:5.2f}" if d < 99 else "    -" for d in (d_ca, d_min, d_alt))
        flags = [f for f, bad in (("CATION-ANION<1.5", d_ca < 1.5), ("PAIR<1.0", d_min < 1)) if bad]
        flagged += bool(flags)
        print(
            f"{entry['name']:28} {entry['working_ion']:3} {entry['ions_removed_per_formula']:4.2g}"
            f" {len(struct):5d} {per_fu:18} {oxi[:30]:30} {dists}"
            f" {struct.density:5.2f}  {' '.join(flags) or 'ok'}"
        )
    print(f"{len(entries)} entries, {flagged} flagged")
    return 1 if flagged else 0


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA))
    except EntryError as exc:
        sys.exit(f"voltage-pairs: {exc}")
