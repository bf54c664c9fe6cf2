"""Recall of synthesised compounds by generation and prefilters, per prototype family.

    python benchmarks/recall.py [--data benchmarks/data/known-compounds.yaml]

For each family in the data file, the chemical space is the union of the benchmark
compounds' elements per role kind (working ions, framework cations, anions and polyanion
centres), on that family's prototype alone, with the report-only critical policy and
every other setting at its default (GenerateParams(), PrefilterParams(); max_candidates
raised so the whole space is enumerated). Every role assignment of that space is
generated, and

- recall: the benchmark compounds (none of them a known_member of the prototype file the
  likelihood uses) that survive generation and the prefilters (a duplicate of a survivor
  counts as surviving);
- leave-one-out: each known member, judged against the family without itself, through
  the same generation and prefilters;
- survived: the share of all generated candidates that survive, so a filter that keeps
  everything shows;
- broad space: the family's space widened as a screening user would (every supported
  working ion, 31 common framework cations, every anion the roles allow), the share of
  its candidates that survive;
- lowest percentile: where the least likely benchmark compound falls among the
  likelihoods of the broad space's candidates (0 % = the least likely of all).

Misses are printed with the stage and reason that removed them.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screen.candidates.filters import prefilter  # noqa: E402
from screen.candidates.generate import generate  # noqa: E402
from screen.candidates.generators.substitution import (  # noqa: E402
    PrototypeSubstitution,
    PrototypeTemplate,
)
from screen.candidates.polyanions import POLYANIONS  # noqa: E402
from screen.candidates.prototypes import (  # noqa: E402
    curated_structure,
    load_prototypes,
    member_content,
)
from screen.workflow.spec import ChemicalSpace, GenerateParams, PrefilterParams  # noqa: E402


def polyanion_token(centre: str, geometry: str) -> str:
    """A polyanion formula of the space that puts ``centre`` on a polyanion role."""
    options = sorted(
        (p.ligand != "O", p.formula)
        for p in POLYANIONS.values()
        if p.centre == centre and p.geometry == geometry
    )
    return options[0][1]


def family_space(name: str, role_maps: list[dict[str, str]]) -> ChemicalSpace:
    """The union of the compounds' elements per role kind, on one prototype."""
    proto = load_prototypes()[name]
    working, framework, anions = [], [], []

    def add(pool: list[str], value: str) -> None:
        if value not in pool:
            pool.append(value)

    for roles in role_maps:
        for role, element in roles.items():
            spec = proto.roles[role]
            if spec.kind == "working_ion":
                add(working, element)
            elif spec.kind == "framework_cation":
                add(framework, element)
            elif spec.kind == "anion":
                add(anions, element)
            elif spec.kind == "polyanion":
                add(anions, polyanion_token(element, str(spec.geometry)))
    return ChemicalSpace(
        working_ions=working,
        framework_cations=framework,
        anions=anions,
        prototypes=[name],
        role=proto.applications[0],
        critical_policy="report-only",
        max_candidates=10**6,
    )


#: framework cations of the broad space: the cations a screening user would try
BROAD_CATIONS = (
    "Li Na K Mg Ca Sr Ba Al Ga In Sc Y La Ti Zr Hf V Nb Ta Cr Mo W Mn Fe Co Ni Cu Zn Sn Pb Bi"
).split()


def broad_space(space: ChemicalSpace) -> ChemicalSpace:
    """The family's space widened as a screening user would: every supported working ion,
    every cation of BROAD_CATIONS on framework roles, every anion the roles allow."""
    from screen.ions import WORKING_IONS

    proto = load_prototypes()[space.prototypes[0]]
    anions = list(space.anions)
    for spec in proto.roles.values():
        for element in spec.allowed or []:
            if spec.kind == "anion" and element not in anions:
                anions.append(element)
    framework = [c for c in BROAD_CATIONS if c not in space.framework_cations]
    return ChemicalSpace(
        working_ions=list(WORKING_IONS),
        framework_cations=list(space.framework_cations) + framework,
        anions=anions,
        prototypes=space.prototypes,
        role=space.role,
        critical_policy="report-only",
        max_candidates=10**6,
    )


def survival(space: ChemicalSpace) -> tuple[int, int, list[float]]:
    """(survivors, generated, sorted likelihoods) of a space through generation and
    prefilters."""
    generated = generate(space, GenerateParams())
    checked = prefilter([r for r in generated if r.active], space, PrefilterParams())
    likelihoods = sorted(
        r.provenance["substitution_likelihood"]
        for r in generated
        if r.provenance.get("substitution_likelihood") is not None
    )
    return len(survivors(checked)), len(generated), likelihoods


def survivors(records: list) -> set[str]:
    """Ids of records that pass generation and prefilters (or duplicate one that does)."""
    ok = {
        r.id for r in records if r.status.get("prefilter") and r.status["prefilter"].state == "ok"
    }
    for r in records:
        if r.id in ok:
            ok |= {d["id"] for d in r.provenance.get("duplicates", [])}
    return ok


def exit_reason(records: list) -> str:
    """The first record's stage and reason of leaving the funnel."""
    for record in records:
        for stage in ("generate", "prefilter"):
            status = record.status.get(stage)
            if status is not None and status.state != "ok":
                return f"{stage}: {status.reason} ({status.detail})"
    return "not generated"


def matching(records: list, name: str, roles: dict[str, str], formula: str) -> list:
    """Records of ``name`` with substitution ``roles`` and reduced formula ``formula``."""
    from pymatgen.core import Composition

    target = Composition(formula).fractional_composition
    return [
        r
        for r in records
        if r.provenance["recipe"].get("prototype") == name
        and r.provenance["recipe"].get("substitution") == dict(sorted(roles.items()))
        and Composition(r.formula).fractional_composition.almost_equals(target)
    ]


def run_family(name: str, compounds: list[dict]) -> dict:
    """Recall, leave-one-out recall, survival share and misses of one family."""
    proto = curated_structure(name)
    space = family_space(name, [c["roles"] for c in compounds])
    generated = generate(space, GenerateParams())
    passed = [r for r in generated if r.active]
    checked = {r.id: r for r in prefilter(passed, space, PrefilterParams())}
    records = [checked.get(r.id, r) for r in generated]
    alive = survivors(list(checked.values()))
    broad_alive, broad_n, likelihoods = survival(broad_space(space))
    hits, misses, percentiles = 0, [], []
    for c in compounds:
        found = matching(records, name, c["roles"], c["formula"])
        if any(r.id in alive for r in found):
            hits += 1
        else:
            misses.append(f"{c['formula']}: {exit_reason(found)}")
        values = [r.provenance.get("substitution_likelihood") for r in found]
        values = [v for v in values if v is not None]
        if values and likelihoods:
            below = sum(1 for v in likelihoods if v < max(values))
            percentiles.append(100.0 * below / len(likelihoods))
    loo_hits, loo_misses = 0, []
    for member in proto.members:
        rest = tuple(m for m in proto.members if m is not member)
        content = member_content(proto, member) or 1.0
        held_out = dataclasses.replace(proto, members=rest).with_content(content)
        member_space = family_space(name, [member.roles])
        made = PrototypeSubstitution().candidates_for(
            PrototypeTemplate.of(held_out), dict(member.roles), member_space, GenerateParams()
        )
        kept = [r for r in made if r.active]
        out = prefilter(kept, member_space, PrefilterParams()) if kept else []
        if survivors(out):
            loo_hits += 1
        else:
            loo_misses.append(f"{member.formula}: {exit_reason(out or made)}")
    n = len(records)
    return {
        "broad_survived": broad_alive,
        "broad_generated": broad_n,
        "family": name,
        "compounds": len(compounds),
        "recalled": hits,
        "members": len(proto.members),
        "loo_recalled": loo_hits,
        "generated": n,
        "survived": len({r.id for r in records} & alive),
        "lowest_percentile": min(percentiles) if percentiles else None,
        "misses": misses,
        "loo_misses": loo_misses,
    }


def fraction(k: int, n: int) -> str:
    """'k/n  p%'."""
    return f"{k}/{n} {100 * k / max(n, 1):3.0f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks/data/known-compounds.yaml")
    args = parser.parse_args()
    data = yaml.safe_load(args.data.read_text())
    by_family: dict[str, list[dict]] = defaultdict(list)
    for c in data["compounds"]:
        by_family[c["prototype"]].append(c)
    for name, compounds in by_family.items():
        from pymatgen.core import Composition

        members = [
            (m.roles, Composition(m.formula).fractional_composition)
            for m in curated_structure(name).members
        ]
        leaked = [
            c["formula"]
            for c in compounds
            for roles, comp in members
            if c["roles"] == roles
            and Composition(c["formula"]).fractional_composition.almost_equals(comp)
        ]
        if leaked:
            raise SystemExit(f"{args.data}: {name}: {leaked} are known members, not held out")
    start = time.perf_counter()
    rows = [run_family(name, by_family[name]) for name in sorted(by_family)]
    wall = time.perf_counter() - start
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    header = (
        f"{'family':28s} {'recall':>13s} {'leave-one-out':>14s} {'generated':>9s} "
        f"{'survived':>13s} {'lowest pct':>10s} {'broad space: survived':>24s}"
    )
    print(header)
    print("-" * len(header))
    total = [0, 0, 0, 0, 0, 0]
    for row in rows:
        recall = fraction(row["recalled"], row["compounds"])
        loo = fraction(row["loo_recalled"], row["members"])
        share = fraction(row["survived"], row["generated"])
        pct = "-" if row["lowest_percentile"] is None else f"{row['lowest_percentile']:.0f}%"
        broad = fraction(row["broad_survived"], row["broad_generated"])
        print(
            f"{row['family']:28s} {recall:>13s} {loo:>14s} {row['generated']:9d} {share:>13s} "
            f"{pct:>10s} {broad:>24s}"
        )
        for i, key in enumerate(
            ("recalled", "compounds", "loo_recalled", "members", "survived", "generated")
        ):
            total[i] += row[key]
    print("-" * len(header))
    print(
        f"{'all':28s} {total[0]}/{total[1]} {100 * total[0] / total[1]:.0f}%   "
        f"{total[2]}/{total[3]} {100 * total[2] / total[3]:.0f}%   "
        f"survived {total[4]}/{total[5]} {100 * total[4] / total[5]:.0f}%   ({wall:.1f} s)"
    )
    for row in rows:
        for miss in row["misses"]:
            print(f"miss   {row['family']}: {miss}")
        for miss in row["loo_misses"]:
            print(f"loo    {row['family']}: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
