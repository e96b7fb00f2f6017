"""Interoperability: panva's openid-client (an OpenID-certified, strict relying-party library, in
Node) runs the code flow against the live hub: discovery, PKCE S256 + state + nonce, RFC 9207
`iss`, the ID token's validation, userinfo, refresh with rotation, introspection, revocation,
the end-session URL, for client_secret_basic, client_secret_post, private_key_jwt (an ES256
application key), a public client and an application with ES256 ID tokens; and the
client_credentials grant of a service application.

The browser's part is the hub session cookie of a person signed in through the fake provider;
the Node script sends it with the authorization request and reads the redirect.

Skips without `node` or tests/interop/node_modules (`npm ci --prefix tests/interop`), except
when HUB_REQUIRE_INTEROP=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.issuer_kit import IssuerKit

pytestmark = pytest.mark.slow

INTEROP = Path(__file__).resolve().parents[1] / "interop"
SCRIPT = INTEROP / "flow.mjs"
CALLBACK = "https://app.example/callback"
SIGNED_OUT = "https://app.example/signed-out"


@pytest.fixture
def hub_config(hub_config: dict[str, Any]) -> dict[str, Any]:
    """Strict reuse detection: the client presents a rotated-out refresh token right after its
    rotation, which the default grace window would answer (tests/e2e/test_issuer_client_defaults.py)."""
    return {**hub_config, "refresh_reuse_grace_seconds": 0}


def node_or_skip() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed"
    elif not (INTEROP / "node_modules" / "openid-client").is_dir():
        missing = "openid-client is not installed (npm ci --prefix tests/interop)"
    if missing is None:
        assert node is not None
        return node
    if os.environ.get("HUB_REQUIRE_INTEROP") == "1":
        pytest.fail(f"HUB_REQUIRE_INTEROP=1 but {missing}")
    pytest.skip(missing)


def browser_cookie(kit: IssuerKit) -> str:
    """The Cookie header of the kit's signed-in browser, for the Node script's requests."""
    jar = kit.browser._cookies or {}
    return "; ".join(f"{cookie.key}={cookie.value}" for cookie in jar.values())


def run_openid_client(node: str, kit: IssuerKit, clients: list[dict[str, Any]]) -> dict[str, Any]:
    payload = {"issuer": kit.base, "cookie": browser_cookie(kit), "clients": clients}
    finished = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)["clients"]


def register(kit: IssuerKit, label: str, auth: str, **options: Any) -> dict[str, Any]:
    app = kit.register(
        f"Interop {label}",
        CALLBACK,
        public=auth == "none",
        first_party=True,
        auth_method=auth,
        post_logout_redirect_uris=[SIGNED_OUT],
        **options,
    )
    spec = {"label": label, "client_id": app.client_id, "auth": auth, "redirect_uri": CALLBACK,
            "post_logout_redirect_uri": SIGNED_OUT}
    if app.client_secret:
        spec["client_secret"] = app.client_secret
    return spec


def application_key() -> tuple[dict[str, Any], dict[str, Any]]:
    """An application's own signing key for private_key_jwt: (public JWKS, private JWK)."""
    key = ECKey.generate_key("P-256", parameters={"kid": "interop-app-1", "alg": "ES256", "use": "sig"})
    return {"keys": [key.as_dict(private=False)]}, key.as_dict(private=True)


CODE_FLOW_CLIENTS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt", "es256_id_token")


def test_openid_client_runs_every_step_against_the_hub(issuer: IssuerKit) -> None:  # noqa: F811
    node = node_or_skip()
    public_jwks, private_jwk = application_key()
    specs = [
        register(issuer, "client_secret_basic", "client_secret_basic"),
        register(issuer, "client_secret_post", "client_secret_post"),
        register(issuer, "none", "none"),
        {**register(issuer, "private_key_jwt", "private_key_jwt", jwks=public_jwks), "private_jwk": private_jwk},
        {**register(issuer, "es256_id_token", "client_secret_basic", signing_alg="ES256"), "id_token_alg": "ES256"},
    ]
    service = issuer.register("Interop service", CALLBACK, grant_types=["client_credentials"])
    specs.append({"label": "client_credentials", "flow": "client_credentials", "client_id": service.client_id,
                  "client_secret": service.client_secret, "auth": "client_secret_basic", "redirect_uri": CALLBACK})
    issuer.sign_in("alice")

    results = run_openid_client(node, issuer, specs)

    for spec in specs:
        steps = results[spec["label"]]
        failed = {name: step for name, step in steps.items() if not step["ok"]}
        assert not failed, json.dumps({spec["label"]: failed}, indent=1)
        assert steps["discovery"]["issuer"] == issuer.base
    service_steps = results["client_credentials"]
    assert service_steps["client_credentials"]["has_refresh_token"] is False
    assert service_steps["introspection"]["active"] is True
    assert service_steps["introspection"]["sub"] == service.client_id

    for spec in specs[:len(CODE_FLOW_CLIENTS)]:
        steps = results[spec["label"]]
        assert steps["browser"]["has_code"] and steps["browser"]["iss"] == issuer.base
        exchange = steps["code_exchange"]
        assert exchange["token_type"].lower() == "bearer" and exchange["has_refresh_token"]
        assert exchange["id_token_alg"] == spec.get("id_token_alg", "RS256")
        id_claims = exchange["id_token_claims"]
        assert id_claims["iss"] == issuer.base and id_claims["aud"] == spec["client_id"]
        assert id_claims["azp"] == spec["client_id"] and id_claims["sid"]
        assert steps["replayed_code"] == {"ok": True, "refused": True, "error": "invalid_grant", "status": 400}
        assert steps["userinfo"]["claims"]["sub"] == id_claims["sub"]
        assert steps["refresh"]["rotated"] is True
        assert steps["refresh"]["has_id_token"] and steps["refresh"]["id_token_sub"] == id_claims["sub"]
        assert steps["reused_refresh"] == {"ok": True, "refused": True, "error": "invalid_grant", "status": 400}
        assert steps["revocation"]["refresh_refused_after"] is True
        end_session = steps["end_session_url"]
        assert end_session["status"] in {200, 302}, end_session
        if end_session["status"] == 302:
            assert end_session["location"].startswith(SIGNED_OUT)
        if spec["auth"] != "none":
            assert steps["introspection"]["active"] is True
            assert steps["introspection"]["client_id"] == spec["client_id"]
            assert steps["introspection"]["sub"] == id_claims["sub"]
            assert steps["introspection_after_reuse"]["active"] is False  # reuse revoked the family
        if spec["auth"] in {"client_secret_basic", "client_secret_post"}:
            wrong = steps["wrong_secret"]
            assert wrong["refused"] and wrong["error"] == "invalid_client" and wrong["body_error"] == "invalid_client"
            if spec["auth"] == "client_secret_basic":  # RFC 6749 §5.2: 401 with the scheme used
                assert wrong["status"] == 401 and wrong["challenge_schemes"] == ["basic"], wrong
            else:
                assert wrong["status"] in {400, 401}, wrong
