"""The batscreen command: exit codes and messages for good and bad input."""

from __future__ import annotations

import subprocess
import sys

import yaml
from typer.testing import CliRunner

from screen.cli.main import app
from tests.conftest import QUICKSTART, quickstart_data, write_workflow

runner = CliRunner()


def batscreen(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "screen.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_validate_ok():
    result = runner.invoke(app, ["validate", str(QUICKSTART)])
    assert result.exit_code == 0 and "valid" in result.output


def test_validate_lists_every_problem(tmp_path):
    data = quickstart_data()
    data["stages"]["relax"]["fmax"] = "tight"
    data["chemical_space"]["working_ions"] = ["Qq"]
    path = write_workflow(tmp_path / "bad.yaml", data)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "2 problem(s)" in result.output
    assert "stages.relax.fmax" in result.output and "given: 'tight'" in result.output
    assert "chemical_space.working_ions.0" in result.output


def test_run_refuses_invalid_workflow_and_creates_nothing(tmp_path):
    data = quickstart_data()
    data["potential"]["name"] = "no-such-model"
    path = write_workflow(tmp_path / "bad.yaml", data)
    out = tmp_path / "camp"
    result = batscreen("run", path, "--out", out)
    assert result.returncode == 2
    assert "potential.name" in result.stderr and "no model card named" in result.stderr
    assert not out.exists()


def test_run_refuses_foreign_directory(tmp_path):
    out = tmp_path / "camp"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = batscreen("run", QUICKSTART, "--out", out)
    assert result.returncode == 2
    assert "not empty and is not a batscreen campaign" in result.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_run_rejects_bad_workers(tmp_path):
    result = runner.invoke(app, ["run", str(QUICKSTART), "--workers", "-3"])
    assert result.exit_code == 2


def test_init_copies_and_renames(tmp_path):
    result = runner.invoke(
        app, ["init", "my-na-study", "--from", "quickstart", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "my-na-study.yaml").read_text())
    assert data["name"] == "my-na-study"
    assert data["chemical_space"] == quickstart_data()["chemical_space"]
    again = runner.invoke(app, ["init", "my-na-study", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists" in again.output


def test_init_rejects_unknown_example_and_bad_name(tmp_path):
    unknown = runner.invoke(app, ["init", "x", "--from", "nope", "--dir", str(tmp_path)])
    assert unknown.exit_code == 2
    examples = "mg-cathodes, mg-zn-electrolytes, na-cathode-search, na-electrolytes, quickstart"
    assert f"available: {examples}, zn-cathodes" in unknown.output
    bad = runner.invoke(app, ["init", "has space", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "name" in bad.output
    assert not list(tmp_path.iterdir())


def test_status_of_non_campaign(tmp_path):
    result = runner.invoke(app, ["status", str(tmp_path)])
    assert result.exit_code == 2 and "not a batscreen campaign" in result.output


def test_schema_and_models_list():
    schema = runner.invoke(app, ["schema"])
    assert schema.exit_code == 0 and '"title": "batscreen workflow file"' in schema.output
    models = runner.invoke(app, ["models", "list"])
    assert models.exit_code == 0
    assert "chgnet-0.3.0" in models.output and "bundled, verified" in models.output


def test_run_stops_before_creating_anything_when_weights_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("BATSCREEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    data = quickstart_data()
    data["potential"]["name"] = "mace-mpa-0-medium"
    path = write_workflow(tmp_path / "mace.yaml", data)
    out = tmp_path / "camp"
    result = batscreen("run", path, "--out", out)
    assert result.returncode == 2
    assert "batscreen models fetch mace-mpa-0-medium" in result.stderr
    assert not out.exists()
