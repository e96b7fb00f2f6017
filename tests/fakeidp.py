"""A test provider plugin and its identity provider, mocked at the HTTP layer with `responses`.

The provider type `fake` is registered through the same hook as real plugins. FakeIdP plays
the provider: it issues codes for a browser that "signed in" there, checks the PKCE verifier,
client secret and redirect URI at its token endpoint, and serves a profile. Codes, tokens and
misbehaviour switches are the test kit's generic parts (`hub.testing.grants`,
`hub.testing.misbehaviour`); only the answers' shapes are this provider's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import responses

from hub import hookimpl
from hub.errors import ProviderDenied, ProviderUnavailable, RefreshRejected, TokenRejected
from hub.plugin.testing.grants import CodeGrant, GrantRefused, Grants, IssuedToken
from hub.plugin.testing.misbehaviour import Misbehaviours
from hub.provider import (
    AuthorizationRequest,
    Callback,
    Identity,
    LogoutRequest,
    Profile,
    ProviderType,
    RefreshResult,
    SignInResult,
    Tokens,
    authentication_claims,
)

IDP = "https://idp.test"

hub_api_version = 1


class FakeProvider(ProviderType):
    type_name = "fake"

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        return ("openid", "profile")

    def authorization_url(self, request: AuthorizationRequest) -> str:
        query = {
            "client_id": self.settings["client_id"],
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "state": request.state,
            "nonce": request.nonce,
            "code_challenge": request.code_challenge,
            "code_challenge_method": "S256",
            "scope": " ".join(self.requested_scopes),
        }
        if request.prompt:
            query["prompt"] = request.prompt
        if request.login_hint:
            query["login_hint"] = request.login_hint
        return f"{self.settings.get('idp', IDP)}/authorize?{urlencode(query)}"

    def complete_sign_in(self, callback: Callback) -> SignInResult:
        if "error" in callback.params:
            raise ProviderDenied(
                f"The provider said: {callback.params.get('error_description', 'no reason given')}",
                provider_code=callback.params["error"],
            )
        idp = self.settings.get("idp", IDP)
        response = self.context.http.post(
            f"{idp}/token",
            data={
                "grant_type": "authorization_code",
                "code": callback.params.get("code", ""),
                "code_verifier": callback.code_verifier,
                "redirect_uri": self.redirect_uri,
            },
            auth=(self.settings["client_id"], self.settings["client_secret"]),
        )
        body = _json(response)
        if body.get("nonce") != callback.nonce:
            raise TokenRejected("The provider's answer was issued for another sign-in (nonce).")
        me = _json(self.context.http.get(f"{idp}/me", headers={"Authorization": f"Bearer {body['access_token']}"}))
        return SignInResult(
            identity=Identity(
                subject=me["sub"],
                issuer=idp,
                roles=frozenset(me.get("roles", [])),
                session_id=body.get("sid"),
                **authentication_claims(body),
            ),
            profile=Profile(
                display_name=me.get("name"),
                email=me.get("email"),
                email_verified=me.get("email_verified") is True,
                job_title=me.get("job"),
            ),
            tokens=_tokens(body),
        )

    def refresh(self, refresh_token: str, previous: Identity) -> RefreshResult:
        idp = self.settings.get("idp", IDP)
        response = self.context.http.post(
            f"{idp}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(self.settings["client_id"], self.settings["client_secret"]),
        )
        if response.status_code == 400 and response.json().get("error") == "invalid_grant":
            raise RefreshRejected("The provider no longer accepts this account's refresh token.")
        return RefreshResult(tokens=_tokens(_json(response)))

    def revoke(self, tokens: Tokens) -> None:
        response = self.context.http.post(
            f"{self.settings.get('idp', IDP)}/revoke",
            data={"token": tokens.refresh_token or tokens.access_token},
            auth=(self.settings["client_id"], self.settings["client_secret"]),
        )
        if response.status_code != 200:
            raise ProviderUnavailable("The test provider did not revoke the token.")

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        return f"{self.settings.get('idp', IDP)}/logout?{urlencode({'post_logout_redirect_uri': post_logout_redirect_uri})}"

    def backchannel_logout(self, logout_token: str) -> LogoutRequest | None:
        """A stand-in for a signed logout token (see `logout_token`): the core's handling of
        what a validator returns, without JOSE."""
        claims = read_logout_token(logout_token, self.settings["client_secret"])
        exp = claims.get("exp")
        return LogoutRequest(
            sid=claims.get("sid"),
            subject=claims.get("sub"),
            jti=claims.get("jti"),
            expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) else None,
        )

    def frontchannel_logout(self, params: Mapping[str, str]) -> str | None:
        sid = params.get("sid")
        if not sid:
            raise TokenRejected("The front-channel logout request names no provider session (sid).")
        return sid


def logout_token(claims: dict[str, Any], secret: str = "fake-client-secret") -> str:  # noqa: S107 - a test value
    """base64url(JSON) "." HMAC-SHA256 under the client secret: signed, so a test can forge one
    only by knowing the secret, as with a real provider's key."""
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def read_logout_token(token: str, secret: str) -> dict[str, Any]:
    body, _, mac = token.partition(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        raise TokenRejected("The logout token's signature does not match.")
    claims = json.loads(base64.urlsafe_b64decode(body.encode()))
    if claims.get("exp", 0) < datetime.now(UTC).timestamp():
        raise TokenRejected("The logout token has expired.")
    return claims


def _json(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ProviderUnavailable("The test provider failed.")
    body = response.json()
    if response.status_code >= 400 or "error" in body:
        raise TokenRejected(f"The test provider refused: {body.get('error')}")
    return body


def _tokens(body: dict[str, Any]) -> Tokens:
    return Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600))),
        scopes=tuple(body.get("scope", "").split()),
    )


@hookimpl
def hub_provider_types() -> list[type[ProviderType]]:
    return [FakeProvider]


@dataclass
class FakeUser:
    sub: str
    name: str
    email: str
    roles: list[str] = field(default_factory=list)
    job: str | None = None
    email_verified: bool = False


def _status_switch(endpoint: str) -> property:
    """An HTTP status the endpoint answers with until set back to 200 (a persistent switch)."""

    def read(idp: FakeIdP) -> int:
        armed = idp.misbehaviours.armed("status", endpoint)
        return armed.options["status"] if armed is not None else 200

    def write(idp: FakeIdP, status: int) -> None:
        idp.misbehaviours.disarm("status", endpoint)
        if status != 200:
            idp.misbehaviours.arm("status", times=None, endpoint=endpoint, status=status)

    return property(read, write)


class FakeIdP:
    """The provider's side, served through `responses`. Records every secret it hands out so
    tests can search the database and logs for them."""

    token_status = _status_switch("token")
    me_status = _status_switch("me")
    revoke_status = _status_switch("revoke")

    def __init__(self, mock: responses.RequestsMock, base: str = IDP, client_secret: str = "fake-client-secret") -> None:  # noqa: S107 - a test value
        self.base = base
        self.mock = mock
        """The `responses` mock: tests may add other outside endpoints (applications' receivers)."""
        self.client_secret = client_secret
        self.users = {
            "alice": FakeUser("sub-alice", "Alice Admin", "alice@example.test", ["admin"], "Engineer"),
            "bob": FakeUser("sub-bob", "Bob Builder", "bob@example.test"),
            "mallory": FakeUser("sub-mallory", "Mallory", "alice@example.test"),
        }
        self.grants: Grants[FakeUser] = Grants()
        self.misbehaviours = Misbehaviours({"status", "wrong_nonce"}, {"token", "me", "revoke"})
        self.secrets_issued: list[str] = []
        self.token_calls = 0
        self.revoked: list[str] = []
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, f"{base}/token", callback=self._token)
        mock.add_callback(responses.GET, f"{base}/me", callback=self._me)
        mock.add_callback(responses.POST, f"{base}/revoke", callback=self._revoke)

    @property
    def access(self) -> dict[str, FakeUser]:
        """Live access tokens and whom they belong to (a copy)."""
        return {token: held.person for token, held in self.grants.access.items()}

    @property
    def refresh_tokens(self) -> dict[str, IssuedToken[FakeUser]]:
        """Live refresh tokens (the store itself: `clear()` makes the provider forget them)."""
        return self.grants.refresh

    @property
    def wrong_nonce(self) -> bool:
        return self.misbehaviours.armed("wrong_nonce") is not None

    @wrong_nonce.setter
    def wrong_nonce(self, on: bool) -> None:
        self.misbehaviours.disarm("wrong_nonce")
        if on:
            self.misbehaviours.arm("wrong_nonce", times=None)

    def authorize(self, authorization_url: str, user: str = "alice") -> str:
        """Play the browser at the provider: returns the callback URL the provider redirects to."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        assert query["code_challenge_method"] == "S256"
        grant = CodeGrant(self.users[user], query["redirect_uri"], query["code_challenge"], nonce=query["nonce"])
        code = self.grants.issue_code(grant)
        self.secrets_issued.append(code)
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self._lock:
            self.token_calls += 1
        if self.token_status != 200:
            return self.token_status, {}, json.dumps({"error": "server_error"})
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"hub:{self.client_secret}".encode()).decode()
        if auth != expected:
            return 401, {}, json.dumps({"error": "invalid_client"})
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if "code_verifier" in form:
            self.secrets_issued.append(form["code_verifier"])
        if form["grant_type"] == "refresh_token":
            held = self.grants.spend_refresh(form["refresh_token"])
            if held is None:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            return 200, {}, json.dumps(self._issue(held.person, nonce=None))
        try:
            grant = self.grants.redeem_code(form.get("code", ""), form.get("redirect_uri"), form.get("code_verifier"))
        except GrantRefused:
            return 400, {}, json.dumps({"error": "invalid_grant"})
        nonce = "not-the-nonce" if self.wrong_nonce else grant.nonce
        return 200, {}, json.dumps(self._issue(grant.person, nonce))

    def _issue(self, user: FakeUser, nonce: str | None) -> dict[str, Any]:
        access, refresh = self.grants.issue_access(user, "openid profile"), self.grants.issue_refresh(user, "openid profile")
        self.secrets_issued += [access, refresh]
        return {"access_token": access, "refresh_token": refresh, "expires_in": 3600, "nonce": nonce, "scope": "openid profile", "sid": f"sid-{user.sub}", "amr": ["pwd", "mfa"], "acr": "urn:example:mfa"}

    def _revoke(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.revoke_status != 200:
            return self.revoke_status, {}, "{}"
        token = parse_qs(request.body)["token"][0]
        self.revoked.append(token)
        self.grants.refresh.pop(token, None)
        return 200, {}, "{}"

    def _me(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.me_status != 200:
            return self.me_status, {}, json.dumps({"error": "boom"})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        user = self.grants.holder(token)
        if user is None:
            return 401, {}, json.dumps({"error": "invalid_token"})
        return 200, {}, json.dumps({"sub": user.sub, "name": user.name, "email": user.email, "email_verified": user.email_verified, "roles": user.roles, "job": user.job})
