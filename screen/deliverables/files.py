"""The files the deliver stage writes into a campaign folder (listed in its manifest)."""

from __future__ import annotations

from pathlib import Path

#: files the deliver stage writes, beside one CIF per ranked candidate in cifs/
DELIVERED = ("candidates.csv", "candidates.xlsx", "candidates.json", "results.parquet")


def delivered_files(root: Path) -> list[Path]:
    """The deliver stage's files now in ``root`` (the tables, results.parquet, cifs/*)."""
    root = Path(root)
    files = [root / name for name in DELIVERED if (root / name).is_file()]
    cifs = root / "cifs"
    if cifs.is_dir():
        files += sorted(p for p in cifs.iterdir() if p.is_file())
    return files
