"""`hub plugin new NAME [--oauth2 | --oidc]` writes a complete plugin package whose own tests pass
as generated: built and installed into a fresh venv next to the hub's wheel (with the
`testing` extra), its tests run there, away from this checkout."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli.commands.plugin import plugin_group
from hub.plugin.scaffold import ScaffoldError, write_plugin
from tests.e2e.conftest import run

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_writes_the_package_and_says_how_to_test_it(tmp_path):
    result = CliRunner().invoke(plugin_group, ["new", "gitlab", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "hub-provider-gitlab"
    assert "README.md" in result.output
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        ".github/workflows/tests.yml",
        "README.md",
        "hub_gitlab/__init__.py",
        "hub_gitlab/provider.py",
        "hub_gitlab/py.typed",
        "hub_gitlab/settings.py",
        "hub_gitlab/testing.py",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/test_gitlab_conformance.py",
        "tests/test_gitlab_end_to_end.py",
        "tests/test_gitlab_settings.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.identity_hub]\ngitlab = "hub_gitlab"' in pyproject
    assert 'test = ["identity-hub[testing]"]' in pyproject
    assert "class GitlabProvider(OAuth2Provider):" in (root / "hub_gitlab/provider.py").read_text()
    readme = (root / "README.md").read_text()
    assert "uv add --editable ./hub-provider-gitlab" in readme and "python -m pytest" in readme
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
        assert "@" + "MODULE@" not in path.read_text() and "@TYPE_NAME@" not in path.read_text()


def test_oidc_plugins_build_on_the_openid_connect_base_class(tmp_path):
    root = write_plugin("acme_id", tmp_path, "oidc")
    assert root.name == "hub-provider-acme-id"
    assert "class AcmeIdProvider(OpenIdConnectProvider):" in (root / "hub_acme_id/provider.py").read_text()


@pytest.mark.parametrize("name", ["GitLab", "1password", "git-lab", "class", ""])
def test_a_name_that_cannot_be_a_module_is_refused(tmp_path, name):
    with pytest.raises(ScaffoldError, match="lower-case letters"):
        write_plugin(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    write_plugin("gitlab", tmp_path)
    (tmp_path / "hub-provider-gitlab" / "README.md").write_text("mine")
    result = CliRunner().invoke(plugin_group, ["new", "gitlab", "--directory", str(tmp_path)])
    assert result.exit_code != 0 and "already exists" in str(result.exception)
    assert (tmp_path / "hub-provider-gitlab" / "README.md").read_text() == "mine"


@pytest.mark.slow
def test_generated_plugins_install_and_pass_their_own_tests(tmp_path, uv):
    dist = tmp_path / "dist"
    run(uv, "build", "--wheel", "--out-dir", str(dist), cwd=ROOT)
    (wheel,) = dist.glob("identity_hub-*.whl")
    oauth2 = write_plugin("gitlab", tmp_path / "src", "oauth2")
    oidc = write_plugin("acme_id", tmp_path / "src", "oidc")
    venv = tmp_path / "venv"
    run(uv, "venv", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--python", str(python), f"identity-hub[testing] @ {wheel.as_uri()}", str(oauth2), str(oidc))
    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    listing = run(str(venv / "bin" / "hub"), "providers", env={**env, "HUB_INSTANCE_PATH": str(tmp_path / "instance")},
                  cwd=tmp_path).stdout  # fmt: skip
    assert "hub-provider-gitlab" in listing and "hub-provider-acme-id" in listing
    for root, expected in ((oauth2, 43), (oidc, 43)):
        assert "HUB_KIT_STRICT" in (root / ".github" / "workflows" / "tests.yml").read_text()
        # strict mode, as the generated CI runs it: every kit check the adapter could enable ran
        result = run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hub-strict",
                     env={**env, "HUB_KIT_STRICT": "1"}, cwd=root)  # fmt: skip
        summary = result.stdout.strip().splitlines()[-1]
        assert " failed" not in summary and "error" not in summary, result.stdout[-3000:]
        assert "not checked: nothing" in result.stdout, result.stdout[-3000:]
        passed = int(summary.split(" passed")[0].split()[-1])
        skipped = int(summary.split(" skipped")[0].split()[-1]) if "skipped" in summary else 0
        assert passed + skipped == expected and passed >= 37, summary


ENTRY_POINTS = "from importlib.metadata import entry_points; print(sorted(e.name for e in entry_points(group='identity_hub')))"


@pytest.mark.slow
def test_uv_add_editable_survives_uv_sync_where_uv_pip_install_does_not(tmp_path, uv):
    """The README's install instruction: an outsider's editable plugin, added with `uv add
    --editable`, is still installed after `uv sync`; one installed with `uv pip install -e` is
    removed by it (what happened to the outsider)."""
    kept = write_plugin("gitlab", tmp_path / "plugins", "oauth2")
    dropped = write_plugin("acme_id", tmp_path / "plugins", "oidc")
    project = tmp_path / "myhub"
    project.mkdir()
    env = {**os.environ, "UV_OFFLINE": "1", "VIRTUAL_ENV": ""}  # the uv cache only: no network
    run(uv, "init", "--bare", "--name", "myhub", "--python", sys.executable, cwd=project, env=env)
    run(uv, "add", "--editable", str(ROOT), cwd=project, env=env)
    run(uv, "add", "--editable", str(kept), cwd=project, env=env)
    run(uv, "pip", "install", "-e", str(dropped), cwd=project, env=env)
    before = run(uv, "run", "--no-sync", "python", "-c", ENTRY_POINTS, cwd=project, env=env).stdout.strip()
    assert "'acme_id'" in before and "'gitlab'" in before
    run(uv, "sync", cwd=project, env=env)
    after = run(uv, "run", "--no-sync", "python", "-c", ENTRY_POINTS, cwd=project, env=env).stdout.strip()
    assert "'gitlab'" in after and "'acme_id'" not in after
    assert 'hub-provider-gitlab = { path = "' in (project / "pyproject.toml").read_text()
