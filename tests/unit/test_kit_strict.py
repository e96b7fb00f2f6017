"""Nothing the kit skips goes unreported (issue 20): a plugin whose adapter has only the required
members (as written from today's docs) still passes, and the end of the run names, per plugin,
what was not checked; strict mode (`--hub-strict` or HUB_KIT_STRICT=1) fails those checks. The
plugin imports only `hub.testing.conformance`: the summary works with and without the kit's
pytest11 entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLUGIN_TEST = '''
import pytest
from hub.testing.authserver import FakeAuthorizationServer
from hub.testing.conformance import ConformanceAdapter, ProviderConformance
from tests import kitplugin
from tests.kitplugin import gitlab_profile


class OldAdapter(ConformanceAdapter):
    plugin, plugin_name, users, has_id_token = kitplugin, "kitlab", ("alice", "bob"), False

    def __init__(self, idp):
        self.idp = idp

    def provider_table(self, redirect_uri):
        return {"type": "kitlab", "base_url": self.idp.url, "client_id": self.idp.client_id,
                "client_secret": self.idp.client_secret}

    def approve(self, url, user):
        return self.idp.approve(url, user)

    def token_calls(self):
        return self.idp.token_calls

    def refuse_account(self, user):  # the v1 signature: one state
        self.idp.block(user)
        return True


class TestOldConformance(ProviderConformance):
    @pytest.fixture
    def adapter(self):
        with FakeAuthorizationServer(openid=False, profile_path="/api/v4/user", profile=gitlab_profile) as idp:
            yield OldAdapter(idp)
'''

CHECKS = "username or unverified or refused_account or email_change"


def kit_run(tmp_path: Path, *options: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_old_plugin.py").write_text(PLUGIN_TEST)
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(environ or {})}
    if "HUB_KIT_STRICT" not in (environ or {}):
        env.pop("HUB_KIT_STRICT", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", CHECKS, *options, str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip


def test_an_adapter_written_for_v1_passes_and_the_run_names_what_was_not_checked(tmp_path: Path) -> None:
    result = kit_run(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("hub kit: kitlab: not checked:"))
    for member in ("rename", "unverify_email", "change_email", "account_states"):
        assert member in line, line


@pytest.mark.parametrize(
    ("options", "environ"),
    [(("--hub-strict",), {}), ((), {"HUB_KIT_STRICT": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})],
    ids=["option", "environment-without-entry-points"],
)
def test_strict_mode_fails_what_was_not_checked(tmp_path: Path, options: tuple[str, ...], environ: dict[str, str]) -> None:
    result = kit_run(tmp_path, *options, environ=environ)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "4 failed" in result.stdout and "strict mode" in result.stdout, result.stdout[-3000:]
    assert "hub kit: kitlab: not checked:" in result.stdout
