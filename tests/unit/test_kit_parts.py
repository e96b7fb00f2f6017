"""The test kit's generic parts every fake builds on (hub.testing.grants, hub.testing.misbehaviour),
and the v1 alias `hub.testing` importing a part without pulling in the whole kit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.plugin.testing.grants import CodeGrant, GrantRefused, Grants, s256
from hub.plugin.testing.misbehaviour import Misbehaviours


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_code_works_once_with_its_redirect_uri_and_verifier() -> None:
    grants: Grants[str] = Grants()
    code = grants.issue_code(CodeGrant("ada", "https://rp.test/cb", s256("v" * 43), nonce="n"))
    assert grants.redeem_code(code, "https://rp.test/cb", "v" * 43).person == "ada"
    with pytest.raises(GrantRefused) as again:
        grants.redeem_code(code, "https://rp.test/cb", "v" * 43)
    assert again.value.reason == "unknown"


@pytest.mark.parametrize(
    ("redirect_uri", "verifier", "reason"),
    [("https://evil.test/cb", "v" * 43, "redirect_uri"), ("https://rp.test/cb", "w" * 43, "pkce"), ("https://rp.test/cb", None, "pkce")],
)
def test_a_mismatch_refuses_and_spends_the_code(redirect_uri: str, verifier: str | None, reason: str) -> None:
    grants: Grants[str] = Grants()
    code = grants.issue_code(CodeGrant("ada", "https://rp.test/cb", s256("v" * 43)))
    with pytest.raises(GrantRefused) as refused:
        grants.redeem_code(code, redirect_uri, verifier)
    assert refused.value.reason == reason
    with pytest.raises(GrantRefused):
        grants.redeem_code(code, "https://rp.test/cb", "v" * 43)


def test_codes_and_tokens_expire_on_the_fakes_clock() -> None:
    clock = Clock()
    grants: Grants[str] = Grants(clock=clock, code_lifetime=60, prefixes=("c-", "a-", "r-"))
    code = grants.issue_code(CodeGrant("ada", None, None))
    access, refresh = grants.issue_access("ada", "s", 100), grants.issue_refresh("ada", "s", 100)
    assert code.startswith("c-") and access.startswith("a-") and refresh.startswith("r-")
    assert grants.holder(access) == "ada"
    clock.now += 101
    with pytest.raises(GrantRefused):
        grants.redeem_code(code, None, None)
    assert grants.holder(access) is None and grants.spend_refresh(refresh) is None


def test_a_refresh_token_is_spent_once_and_revocation_names_the_kind() -> None:
    grants: Grants[str] = Grants()
    refresh, access = grants.issue_refresh("ada", "s"), grants.issue_access("ada", "s")
    assert grants.find_refresh(refresh) is not None  # left usable
    assert grants.spend_refresh(refresh).person == "ada"
    assert grants.spend_refresh(refresh) is None
    assert grants.revoke(access) == "access_token" and grants.revoke(access) is None


def test_switches_fire_their_times_at_their_endpoint() -> None:
    switches = Misbehaviours({"slow", "status"}, {"token", "me"})
    switches.arm("slow", times=2, endpoint="token", seconds=1)
    switches.arm("status", times=None, endpoint="me", status=503)
    assert switches.take("slow", "me") is None
    assert switches.take("slow", "token").options["seconds"] == 1
    assert switches.take(endpoint="token").name == "slow"
    assert switches.take(endpoint="token") is None
    assert all(switches.take("status", "me").options["status"] == 503 for _ in range(5))
    assert switches.armed("status", "me") is not None
    switches.disarm("status")
    assert switches.take("status") is None


def test_an_unknown_switch_or_endpoint_is_refused() -> None:
    switches = Misbehaviours({"slow"}, {"token"})
    with pytest.raises(ValueError, match="unknown misbehaviour"):
        switches.arm("fast")
    with pytest.raises(ValueError, match="endpoint 'user'"):
        switches.arm("slow", endpoint="user")


def test_a_kit_part_imports_without_the_conformance_suite_and_is_the_moved_module() -> None:
    """The fake GitHub and the Entra emulator (behind `hub demo`) import kit parts; that must
    not need pytest, which only the `testing` extra installs."""
    probe = (
        "import sys, hub.testing.grants, hub.testing.keys, hub.testing.misbehaviour, hub.plugin.testing.grants as moved;"
        "assert sys.modules['hub.testing.grants'] is moved;"
        "assert 'pytest' not in sys.modules and 'hub.plugin.testing.conformance' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
