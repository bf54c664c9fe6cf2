"""Install a one-module package with entry points beside batscreen, for plugin tests."""

from __future__ import annotations

from pathlib import Path


def install(folder: Path, name: str, source: str, entry_points: dict[str, dict[str, str]]) -> Path:
    """Write ``<name>.py`` and its dist-info (entry points by group) into ``folder``.

    Put ``folder`` on sys.path (monkeypatch.syspath_prepend) and importlib.metadata finds
    the package as if pip had installed it; returns ``folder``.
    """
    (folder / f"{name}.py").write_text(source)
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{point} = {target}" for point, target in points.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    return folder


def clear_plugin_caches() -> None:
    """Forget what was read from the entry points (before and after a plugin test)."""
    from screen import plugins, properties
    from screen.workflow import catalog

    plugins.plugins.cache_clear()
    plugins.estimator_classes.cache_clear()
    properties.definitions.cache_clear()
    catalog.generator_names.cache_clear()
