"""Every command on a missing, foreign, half-finished or damaged campaign: a message, no
traceback (exit 2 naming the file where the directory cannot be used)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from screen.cli.main import app
from tests.conftest import small_workflow, write_workflow


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A campaign stopped after relax (its plan, a sealed shard, a journal)."""
    import screen
    from screen.potentials.registry import load_potential
    from screen.workflow.load import load_workflow

    tmp = tmp_path_factory.mktemp("cli-damaged")
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["execution"] = {"shard_size": 4, "workers": 1}  # in process: no pools to start
    wf_path = write_workflow(tmp / "wf.yaml", data)
    screen.run(load_workflow(wf_path), tmp / "camp", potential=load_potential(
        "lennard-jones-toy"), until="relax")  # fmt: skip
    return wf_path, tmp / "camp"


def _damaged(kind: str, base: Path, tmp: Path) -> Path:
    root = tmp / kind
    if kind == "missing":
        return root
    if kind == "a-file":
        root.write_text("not a campaign")
        return root
    if kind == "dangling-link":
        root.symlink_to(tmp / "nowhere")
        return root
    if kind == "foreign":
        root.mkdir()
        (root / "notes.txt").write_text("someone else's")
        return root
    shutil.copytree(base, root)
    relax = root / "stages" / "relax"
    if kind == "half-finished":
        shutil.rmtree(root / "stages")
    elif kind == "campaign-json-cut":
        text = (root / "campaign.json").read_text()
        (root / "campaign.json").write_text(text[: len(text) // 2])
        (root / "provenance.json").unlink()  # nothing to rebuild it from
    elif kind == "workflow-garbled":
        (root / "workflow.yaml").write_text("stages: [unclosed\n  : :\n")
    elif kind == "plan-torn":
        (relax / "records.jsonl").unlink()
        text = (relax / "plan.json").read_text()
        (relax / "plan.json").write_text(text[: len(text) // 2])
    elif kind == "shard-torn":
        (relax / "records.jsonl").unlink()
        shard = relax / "shard-0000.jsonl"
        shard.write_bytes(shard.read_bytes()[:-50])
    elif kind == "output-cut":
        lines = (relax / "records.jsonl").read_text().splitlines(keepends=True)
        (relax / "records.jsonl").write_text("".join(lines[:2]))
    return root


KINDS = [
    "missing",
    "a-file",
    "dangling-link",
    "foreign",
    "half-finished",
    "campaign-json-cut",
    "workflow-garbled",
    "plan-torn",
    "shard-torn",
    "output-cut",
]
UNUSABLE = {"missing", "a-file", "dangling-link", "foreign", "campaign-json-cut"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_command_on_a_damaged_campaign_says_what_to_do(tmp_path, started, kind):
    wf_path, base = started
    root = _damaged(kind, base, tmp_path)
    runner = CliRunner()
    commands = [
        ["status", str(root)],
        ["resubmit", str(root)],
        ["task", str(root), "relax", "--shard", "0"],
        ["collect", str(root)],
    ]
    if kind in UNUSABLE - {"missing"}:  # (a missing --out is where a campaign starts)
        commands.append(["run", str(wf_path), "--out", str(root)])
    for args in commands:
        result = runner.invoke(app, args)
        out = result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args,
            repr(result.exception),
            out,
        )
        assert "Traceback" not in out, (args, out)
        assert result.exit_code in (0, 1, 2), (args, result.exit_code, out)
        if (kind in UNUSABLE and args[0] != "status") or result.exit_code == 2:
            assert result.exit_code == 2, (args, out)
            assert str(root) in out or str(root.resolve()) in out, (args, out)
