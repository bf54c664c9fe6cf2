"""A toy evaluator for guided-search tests, and a worker process that runs a search.

The toy "formation energy" is a fixed function of the composition (mean Pauling
electronegativity difference), so tests know the best candidates without a potential.
Run as ``python -m tests.search_toys WORKFLOW OUT SLEEP_S [LOG [BARRIER]]`` to search in a
separate process (shared-journal and kill/resume tests); LOG receives one line per
evaluated id; with BARRIER the processes start together.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from screen.records import Record


def toy_energy(record: Record) -> float:
    from pymatgen.core import Composition

    comp = Composition(record.formula)
    anion = max(comp.elements, key=lambda el: el.X)
    cations = [el for el in comp.elements if el != anion]
    return -sum(comp.get_atomic_fraction(el) * (anion.X - el.X) for el in cations)


class ToyEvaluator:
    """Marks records relaxed and estimated with the toy energy; remembers every batch."""

    def __init__(self, sleep_s: float = 0.0, log: Path | None = None):
        self.sleep_s = sleep_s
        self.log = log
        self.batches: list[list[str]] = []

    def __call__(self, records: list[Record]) -> list[Record]:
        self.batches.append([r.id for r in records])
        out = []
        for record in records:
            r = record.copy_for_stage()
            r.mark("relax", "ok")
            r.set_property("formation_energy_per_atom", toy_energy(r), unit="eV/atom", method="toy")
            r.mark("estimate", "ok")
            out.append(r)
        if self.log is not None:
            with self.log.open("a") as fh:
                fh.writelines(f"{r.id}\n" for r in records)
        time.sleep(self.sleep_s)
        return out


def main(argv: list[str]) -> None:
    """WORKFLOW OUT SLEEP_S [LOG [BARRIER_DIR]]: with a barrier folder, write
    <pid>.ready there and start searching only once the test creates 'go'."""
    import os

    from screen.search.campaign import search

    workflow, out, sleep_s = argv[0], argv[1], float(argv[2])
    log = Path(argv[3]) if len(argv) > 3 else None
    if len(argv) > 4:
        barrier = Path(argv[4])
        (barrier / f"{os.getpid()}.ready").touch()
        deadline = time.time() + 120
        while not (barrier / "go").exists() and time.time() < deadline:
            time.sleep(0.05)
    search(workflow, out, evaluate=ToyEvaluator(sleep_s, log), deliver=False)


if __name__ == "__main__":
    main(sys.argv[1:])
