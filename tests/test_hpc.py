"""SLURM job scripts and profiles without a cluster: golden files, placeholders, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from screen.hpc.profiles import ProfileError, load_profile, profiles_dir, render_job
from screen.hpc.submit import render_scripts

GOLDEN = Path(__file__).parent / "golden" / "hpc"
SHIPPED = sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def test_the_four_profiles_ship():
    assert {"generic", "snellius", "delftblue", "habrok"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_rendered_job_scripts_match_the_golden_files(name, request):
    profile, _ = load_profile(name)
    scripts = render_scripts(profile, Path("/scratch/campaigns/na-test"), "na-test",
                             {"relax": 12, "md": 2})  # fmt: skip
    assert list(scripts) == ["relax", "estimate", "md", "finish"]
    for step, text in scripts.items():
        golden = GOLDEN / name / f"{step}.sbatch"
        if request.config.getoption("--update-golden", default=False):  # pragma: no cover
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert text == golden.read_text(), f"{golden} differs (update: pytest --update-golden)"


def test_array_steps_are_pilots_with_walltime_warning_and_throttle():
    profile, _ = load_profile("snellius")
    text = render_scripts(profile, Path("/c"), "x", {"relax": 3, "md": 0})
    assert "md" not in text  # no md work: no md job
    relax = text["relax"]
    assert "#SBATCH --array=0-2%16" in relax
    assert "#SBATCH --signal=B:USR1@300" in relax
    assert "#SBATCH --gpus-per-task=1" in relax and "#SBATCH --partition=gpu_a100" in relax
    assert 'exec batscreen task /c relax --shard "$SLURM_ARRAY_TASK_ID"' in relax
    assert "--array" not in text["estimate"] and "--gpus" not in text["estimate"]


def test_gpu_type_and_account_render():
    profile, _ = load_profile("habrok")
    assert "#SBATCH --gpus-per-task=a100:1" in render_scripts(profile, Path("/c"), "x",
                                                              {"relax": 1})["relax"]  # fmt: skip
    delft, _ = load_profile("delftblue")
    assert "#SBATCH --account=<FILL: research-<faculty>-<department>>" in render_job(
        delft, kind="light", job_name="j", log_dir=Path("/l"), command="true"
    )


def test_placeholders_are_listed_with_their_fields():
    profile, _ = load_profile("delftblue")
    fields = profile.placeholders()
    assert any(f.startswith("account = ") for f in fields)
    assert any(f.startswith("setup[2] = ") for f in fields)


def test_a_bad_profile_names_the_file_the_field_and_what_is_allowed(tmp_path):
    bad = tmp_path / "site.yaml"
    bad.write_text("name: site\njobs:\n  relax: {time: '4 hours', gpus: -1}\n  gpu: {}\n")
    with pytest.raises(ProfileError) as info:
        load_profile(bad)
    text = str(info.value)
    assert str(bad) in text
    assert "jobs.relax.time" in text and "HH:MM:SS" in text
    assert "jobs.relax.gpus" in text
    assert "jobs.gpu" in text
    with pytest.raises(ProfileError, match=r"shipped profiles are .*generic"):
        load_profile("no-such-site")


def test_submit_refuses_unstaged_weights_and_names_the_staging_command(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from screen.cli.main import app
    from tests.conftest import small_workflow, write_workflow

    monkeypatch.setenv("BATSCREEN_CACHE_DIR", str(tmp_path / "empty-cache"))
    wf = write_workflow(tmp_path / "wf.yaml",
                        small_workflow(**{"potential.name": "mace-mp-0-medium"}))  # fmt: skip
    profile = tmp_path / "site.yaml"
    profile.write_text("name: site\njobs:\n  relax: {partition: gpu, gpus: 1}\n")
    result = CliRunner().invoke(app, ["submit", str(wf), "--profile", str(profile),
                                      "--out", str(tmp_path / "c")])  # fmt: skip
    assert result.exit_code == 2
    assert "batscreen models fetch mace-mp-0-medium" in result.output
    assert not (tmp_path / "c").exists()  # nothing written, nothing submitted


def test_array_specs_expand_as_slurm_writes_them():
    from screen.hpc.slurm import _expand, array_indices

    assert array_indices("0-2,5%4") == [0, 1, 2, 5]
    assert array_indices("3") == [3] and array_indices(None) == []
    assert _expand("12_[3-5,7%2]") == ["12_3", "12_4", "12_5", "12_7"]
    assert _expand("12_4") == ["12_4"] and _expand("13") == ["13"]
