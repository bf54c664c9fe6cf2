"""Model registry: cards, the weights cache (fetch, verify, offline), MACE, local files.

A tiny randomly initialised MACE saved by the tests stands in for foundation weights,
served from a local HTTP server.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from screen.cli.main import app
from screen.potentials.cards import PotentialUnavailable, get_card
from screen.potentials.registry import backend_factory, load_potential
from screen.potentials.weights import WeightsError, cached_path, fetch
from screen.testing import build_random_mace, check_dtype_agreement, check_potential

runner = CliRunner()


@pytest.fixture(scope="session")
def tiny_mace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    path = folder / "tiny.model"
    build_random_mace(str(path), "tiny", atomic_numbers=[1, 3, 8, 9, 11, 12, 17, 26])
    return path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path.endswith("/truncated.model"):
            body = b"x" * 100
            self.send_response(200)
            self.send_header("Content-Length", "1000")  # promises more than it sends
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture(scope="session")
def server(tiny_mace):
    handler = partial(_Handler, directory=str(tiny_mace.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _card(name, url, sha256=None, convention="toy"):
    return {
        "name": name,
        "backend": "mace",
        "version": "test",
        "description": "random tiny MACE for tests",
        "source": {"kind": "url", "url": url, "sha256": sha256},
        "license": "MIT",
        "training_data": "none",
        "energy_convention": convention,
        "default_dtype": "float64",
        "supported_dtypes": ["float32", "float64"],
        "cutoff_angstrom": 4.0,
        "citation": "test",
    }


@pytest.fixture
def registry(tmp_path, monkeypatch, server, tiny_mace):
    """Extra model cards and a private cache for one test."""
    cards = tmp_path / "cards"
    cards.mkdir()
    digest = hashlib.sha256(tiny_mace.read_bytes()).hexdigest()
    entries = {
        "tiny-pinned": _card("tiny-pinned", f"{server}/tiny.model", digest),
        "tiny-tofu": _card("tiny-tofu", f"{server}/tiny.model"),
        "tiny-wrong": _card("tiny-wrong", f"{server}/tiny.model", "0" * 64),
        "tiny-truncated": _card("tiny-truncated", f"{server}/truncated.model", digest),
        "tiny-offline": _card("tiny-offline", "http://127.0.0.1:9/tiny.model", digest),
    }
    for name, data in entries.items():
        (cards / f"{name}.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("BATSCREEN_MODELS_PATH", str(cards))
    monkeypatch.setenv("BATSCREEN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_shipped_cards_cover_the_foundation_models():
    for name, convention in [
        ("chgnet-0.3.0", "mp2020-corrected"),
        ("mace-mp-0-small", "raw-vasp"),
        ("mace-mp-0-medium", "raw-vasp"),
        ("mace-mpa-0-medium", "raw-vasp"),
        ("mace-omat-0-medium", "omat24"),
    ]:
        card = get_card(name)
        assert card.energy_convention == convention
        if card.backend == "mace":
            assert card.source.url.startswith("https://github.com/ACEsuit/")
            assert card.source.sha256 is None or len(card.source.sha256) == 64


def test_backends_register_through_entry_points():
    from screen.potentials.chgnet import CHGNetPotential
    from screen.potentials.mace import MACEPotential

    assert backend_factory("mace") is MACEPotential
    assert backend_factory("chgnet") is CHGNetPotential


def test_fetch_verifies_and_the_model_passes_conformance(registry):
    path = fetch(get_card("tiny-pinned"))
    assert path == cached_path(get_card("tiny-pinned")) and path.is_file()
    loaded = {}
    for dtype in ("float64", "float32"):
        loaded[dtype] = load_potential("tiny-pinned", device="cpu", dtype=dtype)
        check_potential(loaded[dtype])
    check_dtype_agreement(loaded["float32"], loaded["float64"])
    assert loaded["float32"].identity.sha256 == get_card("tiny-pinned").source.sha256


def test_wrong_checksum_is_refused_and_nothing_is_kept(registry):
    with pytest.raises(PotentialUnavailable, match="does not match"):
        fetch(get_card("tiny-wrong"))
    folder = cached_path(get_card("tiny-wrong")).parent
    assert not any(folder.iterdir())


def test_interrupted_download_is_refused(registry):
    with pytest.raises(WeightsError, match="stopped at 100 of 1000 bytes"):
        fetch(get_card("tiny-truncated"))
    assert not any(cached_path(get_card("tiny-truncated")).parent.iterdir())


def test_trust_on_first_use_then_tampering_is_caught(registry):
    card = get_card("tiny-tofu")
    path = fetch(card)
    lock = path.with_name(path.name + ".sha256")
    assert lock.read_text().split()[0] == hashlib.sha256(path.read_bytes()).hexdigest()
    load_potential("tiny-tofu")
    with path.open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(PotentialUnavailable, match="corrupt"):
        load_potential("tiny-tofu")


def test_offline_node_uses_the_cache_or_says_how_to_stage(registry, tiny_mace):
    card = get_card("tiny-offline")
    with pytest.raises(PotentialUnavailable) as info:
        load_potential("tiny-offline")
    assert "batscreen models fetch tiny-offline" in str(info.value)
    assert "--from-file" in str(info.value)
    fetch(card, from_file=tiny_mace)  # staged from a copy, no network needed
    check_potential(load_potential("tiny-offline"))


def test_models_cli_fetch_verify_list(registry, tiny_mace):
    result = runner.invoke(app, ["models", "fetch", "tiny-offline", "--from-file", str(tiny_mace)])
    assert result.exit_code == 0, result.output
    assert "sha256 verified" in result.output
    listed = runner.invoke(app, ["models", "list"])
    assert "cached, verified" in listed.output and "not cached" in listed.output
    ok = runner.invoke(app, ["models", "verify", "tiny-offline", "chgnet-0.3.0"])
    assert ok.exit_code == 0 and "tiny-offline: cached, verified" in ok.output
    cached = cached_path(get_card("tiny-offline"))
    cached.write_bytes(b"not a model")
    bad = runner.invoke(app, ["models", "verify", "tiny-offline"])
    assert bad.exit_code == 2 and "INVALID" in bad.output
    wrong = runner.invoke(app, ["models", "fetch", "tiny-wrong"])
    assert wrong.exit_code == 2 and "does not match" in wrong.output
    unknown = runner.invoke(app, ["models", "fetch", "nope"])
    assert unknown.exit_code == 2 and "registered" in unknown.output


def test_local_model_file_in_a_workflow(tmp_path, tiny_mace):
    from screen.workflow.load import validate_data
    from tests.conftest import quickstart_data

    data = quickstart_data()
    data["potential"] = {"file": str(tiny_mace), "energy_convention": "toy"}
    workflow = validate_data(data, base_dir=tmp_path)
    card = workflow.potential.card()
    assert card.source.kind == "file"
    assert card.source.sha256 == hashlib.sha256(Path(tiny_mace).read_bytes()).hexdigest()
    potential = load_potential(card, device="cpu", dtype="float64")
    check_potential(potential)
    assert workflow.identity()["potential"]["file"] == card.source.sha256

    data["potential"] = {"file": str(tiny_mace)}
    from screen.workflow.load import WorkflowError

    with pytest.raises(WorkflowError, match="needs energy_convention"):
        validate_data(data, base_dir=tmp_path)
    data["potential"] = {"file": "missing.model", "energy_convention": "toy"}
    with pytest.raises(WorkflowError, match="does not exist"):
        validate_data(data, base_dir=tmp_path)
