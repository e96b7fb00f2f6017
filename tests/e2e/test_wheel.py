"""The built wheel is complete: installed into a fresh venv it migrates a database and renders pages."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import run

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]  # one build for the module under xdist

RENDER_LOGIN = """
from hub.app import create_app
app = create_app()
response = app.test_client().get("/login")
print(response.status_code)
print(response.get_data(as_text=True))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, uv) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(uv, "build", "--wheel", "--out-dir", str(out), cwd=ROOT)
    (built,) = out.glob("identity_hub-*.whl")
    return built


def test_wheel_carries_templates_static_and_migrations(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "hub/_bundled/templates/login.html" in names
    assert "hub/_bundled/migrations/env.py" in names
    assert any(n.startswith("hub/_bundled/migrations/versions/0001") for n in names)
    assert "hub/static/hub.css" in names
    assert "hub/py.typed" in names  # PEP 561: plugins type-check against the hub's annotations
    assert "hub/plugin/testing/authserver.py" in names and "hub/plugin/testing/conformance.py" in names and "hub/testing/__init__.py" in names
    # `hub plugin new` reads its templates as package data
    assert "hub/plugin/scaffold_templates/common/pyproject.toml.tmpl" in names
    assert "hub/plugin/scaffold_templates/oidc/@MODULE@/provider.py.tmpl" in names


def test_installed_wheel_migrates_and_renders_sign_in_page(wheel, tmp_path, uv):
    venv = tmp_path / "venv"
    run(uv, "venv", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--python", str(python), str(wheel))
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "HUB_INSTANCE_PATH": str(tmp_path / "instance"),
        "HUB_DOTENV": str(tmp_path / "none.env"),
    }
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()  # run away from the checkout so nothing is imported from it
    run(str(venv / "bin" / "hub"), "db", "upgrade", env=env, cwd=elsewhere)
    result = run(str(python), "-c", RENDER_LOGIN, env=env, cwd=elsewhere)
    status, _, page = result.stdout.partition("\n")
    assert status == "200"
    assert "<h1>Sign in</h1>" in page
    assert str(ROOT) not in run(str(python), "-c", "import hub; print(hub.__file__)", env=env, cwd=elsewhere).stdout
