"""The emulator's state and control API: codes, tokens, keys, sessions and misbehaviours.

`EntraEmulator` is what tests and `hub demo` hold: it starts a real HTTP server on
127.0.0.1 (port 0 picks a free one) in a background thread, and offers methods to rotate
keys, sign in automatically and misbehave on purpose. All state sits behind one lock
because the hub and load tests call it from many threads at once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from joserfc import jwt

from hub.serving import LoopbackServer
from hub.testing.misbehaviour import Misbehaviours
from hub_entra.emulator.directory import (
    CONSUMERS_TENANT_ID,
    Client,
    Tenant,
    User,
    demo_clients,
    demo_tenants,
)
from hub_entra.emulator.keys import CertifiedKey
from hub_entra.emulator.provisioning import Outcome, ProvisioningService

CODE_LIFETIME = 600
ACCESS_TOKEN_LIFETIME = 3599
ID_TOKEN_LIFETIME = 3900
REFRESH_TOKEN_LIFETIME = 90 * 86400
MULTI_TENANT_SEGMENTS = ("common", "organizations")
GRAPH_SCOPE_PREFIX = "https://graph.microsoft.com/"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

MISBEHAVIOURS = frozenset(
    {
        "wrong_issuer",  # ID token iss = https://example.org/
        "wrong_audience",  # ID token aud = another client id
        "bad_signature",  # ID token signature bytes flipped
        "expired_id_token",  # ID token exp an hour ago
        "wrong_nonce",  # ID token nonce differs from the request's
        "email_domain_unverified",  # ID token xms_edov false (the address's domain is not the tenant's)
        "unknown_kid",  # ID token signed with a key not (yet) published
        "refresh_other_user",  # refreshed ID token names another oid
        "discovery_wrong_issuer",  # discovery document names another issuer
        "token_error",  # token endpoint: OAuth error (error=, aadsts=, status=, message=)
        "invalid_client",  # token endpoint: expired client secret, HTTP 401
        "http_error",  # any endpoint=: status= (429/503 add retry_after=), html=True
        "graph_wrong_id",  # Graph /me answers with another id
        "authorize_error",  # authorize redirects back with error= (error=, aadsts=)
        "slow",  # endpoint= waits seconds= before answering
        "canned",  # endpoint=: kind= html|invalid_json|empty (hub.testing.misbehaviour.canned_answer)
    }
)
ENDPOINTS = frozenset({"discovery", "keys", "authorize", "token", "graph", "logout"})


@dataclass
class AuthorizeRequest:
    """An authorize call waiting for the person to pick an account and consent."""

    segment: str
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    response_mode: str
    client_info: bool
    created: float
    user: tuple[str, str] | None = None
    """(tenant id, oid) once an account was picked."""


@dataclass
class CodeGrant:
    segment: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    tenant_id: str
    oid: str
    sid: str
    expires_at: float
    used: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    scope: str
    tenant_id: str
    oid: str
    sid: str
    expires_at: float
    revoked: bool = False


@dataclass
class AccessGrant:
    client_id: str
    tenant_id: str
    oid: str
    expires_at: float


@dataclass
class EmulatorSession:
    """A browser's sign-in at the emulator (the `sid` claim)."""

    sid: str
    tenant_id: str
    oid: str
    client_ids: set[str] = field(default_factory=set)


class TokenEndpointError(Exception):
    """An Entra-shaped OAuth error for the token endpoint."""

    def __init__(
        self, error: str, code: int, message: str, status: int = 400, suberror: str | None = None
    ) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status
        self.suberror = suberror


class EntraEmulator:
    """A small Entra ID v2.0 + Graph `/me` server for demos and tests.

    Use as a context manager, or call `start()` and `stop()`::

        with EntraEmulator() as entra:
            settings = entra.provider_settings()   # for an `entra` provider
            entra.auto_sign_in = "alice@contoso.example"
    """

    def __init__(
        self,
        tenants: Iterable[Tenant] | None = None,
        clients: Iterable[Client] | None = None,
        *,
        port: int = 0,
        public_host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        verbose: bool = False,
    ) -> None:
        """`public_host` is the host name in URLs and issuers (`localhost` works too); the
        server always binds 127.0.0.1 only. `verbose` logs every request."""
        self.verbose = verbose
        self._lock = threading.RLock()
        self.tenants = {tenant.id: tenant for tenant in (tenants or demo_tenants())}
        self.clients = {client.client_id: client for client in (clients or demo_clients())}
        self.clock = clock
        self.public_host = public_host
        self._port = port
        self._server: LoopbackServer | None = None
        self.scheme = "http"
        self.browser_verify: bool | str = True
        """What the person's browser trusts: a CA bundle once the emulator serves HTTPS."""
        self.signing_keys: list[CertifiedKey] = [CertifiedKey.generate()]
        """Published keys; the last one signs."""
        self._auto_sign_in: str | None = None
        self.misbehaviours = Misbehaviours(MISBEHAVIOURS, ENDPOINTS)
        """The armed misbehaviour switches (the test kit's, shared with the other fakes)."""
        self._pending: dict[str, AuthorizeRequest] = {}
        self._codes: dict[str, CodeGrant] = {}
        self._refresh_tokens: dict[str, RefreshGrant] = {}
        self._access_tokens: dict[str, AccessGrant] = {}
        self._sessions: dict[str, EmulatorSession] = {}
        """Browser cookie value -> session."""
        self._assertion_ids: set[str] = set()
        self.disabled_oids: set[str] = set()
        """People disabled in the directory (`set_disabled`): sign-in and refresh answer AADSTS50057."""
        self.provisioning: ProvisioningService | None = None
        """The SCIM client pushing one tenant's people to an application (`connect_scim`)."""
        self.requests: Counter[str] = Counter()
        """How often each endpoint (discovery, keys, authorize, token, graph, logout) was
        called; tests use it to prove, for example, that no Graph call followed a rejection."""

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> EntraEmulator:
        from hub_entra.emulator.app import create_app

        if self._server is None:
            self._server = LoopbackServer(create_app(self), self._port, name="entra-emulator", quiet=not self.verbose)
            self._port = self._server.port
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None

    def serve_tls(self, context: ssl.SSLContext, browser_bundle: str) -> None:
        """Answer HTTPS with `context`'s certificate from now on, on a new port (the conformance
        kit's TLS check); the browser trusts `browser_bundle`."""
        from hub_entra.emulator.app import create_app

        self.stop()
        self._server = LoopbackServer(create_app(self), name="entra-emulator", quiet=not self.verbose, ssl_context=context)
        self._port, self.scheme, self.browser_verify = self._server.port, "https", str(browser_bundle)
        self._server.start()

    def __enter__(self) -> EntraEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """The authority host: configure it as the provider's `authority_host`."""
        return f"{self.scheme}://{self.public_host}:{self._port}"

    @property
    def graph_url(self) -> str:
        """Graph's base URL (served by the same server): the provider's `graph_base_url`."""
        return self.base_url

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def provider_settings(
        self,
        tenant: str | None = None,
        *,
        client_id: str | None = None,
        allowed_tenants: list[str] | None = None,
    ) -> dict[str, Any]:
        """Settings for an `entra` provider pointed at this emulator (tenant defaults to the
        first tenant; for common/organizations every tenant is allowed unless told)."""
        client = self.clients[client_id] if client_id else next(iter(self.clients.values()))
        tenant = tenant or next(iter(self.tenants))
        settings: dict[str, Any] = {
            "tenant": tenant,
            "client_id": client.client_id,
            "authority_host": self.base_url,
            "graph_base_url": self.graph_url,
            "role_map": {"Hub.Admin": "admin"},
        }
        if client.secrets:
            settings["client_secret"] = client.secrets[0]
        if tenant in MULTI_TENANT_SEGMENTS:
            settings["allowed_tenants"] = allowed_tenants or list(self.tenants)
        elif allowed_tenants is not None:
            settings["allowed_tenants"] = allowed_tenants
        return settings

    # --- control API for tests ------------------------------------------------------------

    @property
    def auto_sign_in(self) -> str | None:
        with self._lock:
            return self._auto_sign_in

    @auto_sign_in.setter
    def auto_sign_in(self, email: str | None) -> None:
        """Sign this person in at once on every authorize call, skipping the pages."""
        with self._lock:
            if email is not None and self.find_user(email) is None:
                raise ValueError(f"no such emulator user: {email}")
            self._auto_sign_in = email

    def misbehave(self, name: str, *, times: int | None = 1, **options: Any) -> None:
        """Misbehave on the next `times` matching calls (None: until cleared). See
        MISBEHAVIOURS for names; `endpoint=` scopes http_error and slow."""
        if name not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {name!r}; one of {sorted(MISBEHAVIOURS)}")
        endpoint = options.get("endpoint")
        if name in {"http_error", "slow", "canned"} and endpoint not in ENDPOINTS:
            raise ValueError(f"{name} needs endpoint= one of {sorted(ENDPOINTS)}")
        self.misbehaviours.arm(name, times=times, **options)

    def clear_misbehaviours(self) -> None:
        self.misbehaviours.clear()

    def reset(self) -> None:
        """Forget misbehaviours, auto sign-in and request counts (keys and grants stay)."""
        self.misbehaviours.clear()
        with self._lock:
            self._auto_sign_in = None
            self.requests.clear()

    def rotate_keys(self, *, retire_old: bool = False) -> CertifiedKey:
        """Publish a new signing key and sign with it from now on."""
        key = CertifiedKey.generate()
        with self._lock:
            self.signing_keys = [key] if retire_old else [*self.signing_keys, key]
        return key

    def revoke_refresh_tokens(self, email: str | None = None) -> int:
        """Revoke refresh tokens (of one person, or everyone): the next refresh gets
        invalid_grant AADSTS50173, as after a password reset."""
        with self._lock:
            count = 0
            for grant in self._refresh_tokens.values():
                user = self._user(grant.tenant_id, grant.oid)
                if email is None or (user is not None and user.email == email):
                    grant.revoked = True
                    count += 1
            return count

    def set_disabled(self, email: str, disabled: bool = True) -> bool:
        """Disable (or enable again) a person in the directory, as an admin does in Entra: from
        then on their sign-in and every refresh of their tokens answer invalid_grant
        AADSTS50057 (the user account is disabled). False if there is no such person."""
        found = self.find_user(email)
        if found is None:
            return False
        with self._lock:
            (self.disabled_oids.add if disabled else self.disabled_oids.discard)(found[1].oid)
        return True

    def connect_scim(self, url: str, token: str, tenant_id: str | None = None) -> ProvisioningService:
        """Point the provisioning service of `tenant_id` (default: the first tenant) at a SCIM
        endpoint, as an admin does with an enterprise application's "Tenant URL" and "Secret
        Token". Nothing is sent until a person is provisioned or deprovisioned."""
        tenant_id = tenant_id or next(iter(self.tenants))
        if tenant_id not in self.tenants:
            raise ValueError(f"no such emulator tenant: {tenant_id}")
        self.provisioning = ProvisioningService(url, token, tenant_id)
        return self.provisioning

    def provision(self, email: str) -> Outcome | None:
        """Enable the person in the directory and push them as active over SCIM. None when SCIM
        is not connected or the person is not in the provisioned tenant."""
        user = self._provisioned_user(email)
        if user is None or self.provisioning is None:
            return None
        self.set_disabled(email, False)
        return self.provisioning.provision(user)

    def deprovision(self, email: str) -> Outcome | None:
        """A leaver, as Entra handles one: the account is disabled in the directory (sign-in and
        refresh answer AADSTS50057) and the provisioning service pushes `active` "False"."""
        user = self._provisioned_user(email)
        if user is None or self.provisioning is None:
            return None
        self.set_disabled(email, True)
        return self.provisioning.deprovision(user)

    def _provisioned_user(self, email: str) -> User | None:
        found = self.find_user(email)
        if found is None or self.provisioning is None or found[0].id != self.provisioning.tenant_id:
            return None
        return found[1]

    def add_redirect_uri(self, uri: str, client_id: str | None = None) -> None:
        with self._lock:
            client = self.clients[client_id] if client_id else next(iter(self.clients.values()))
            self.clients[client.client_id] = replace(client, redirect_uris=(*client.redirect_uris, uri))

    def add_client(self, client: Client) -> None:
        with self._lock:
            self.clients[client.client_id] = client

    # --- lookups --------------------------------------------------------------------------

    def change_user(self, upn: str, /, **changes: Any) -> None:
        """Change a person in the directory, their `oid` kept: `email=` (the UPN: a rename),
        `mail=` (the address the `email` claim shows)."""
        found = self.find_user(upn)
        if found is None:
            raise ValueError(f"no such emulator user: {upn}")
        tenant, user = found
        with self._lock:
            users = tuple(replace(u, **changes) if u is user else u for u in tenant.users)
            self.tenants[tenant.id] = replace(tenant, users=users)

    def find_user(self, email: str) -> tuple[Tenant, User] | None:
        for tenant in self.tenants.values():
            for user in tenant.users:
                if user.email.lower() == email.lower():
                    return tenant, user
        return None

    def _user(self, tenant_id: str, oid: str) -> User | None:
        tenant = self.tenants.get(tenant_id)
        return next((u for u in tenant.users if u.oid == oid), None) if tenant else None

    def resolve_tenant(self, segment: str) -> Tenant | str | None:
        """A tenant for a GUID or domain segment, the segment itself for common,
        organizations and consumers, or None when unknown."""
        segment = segment.lower()
        if segment in (*MULTI_TENANT_SEGMENTS, "consumers"):
            return segment
        for tenant in self.tenants.values():
            if segment in (tenant.id, tenant.domain):
                return tenant
        return None

    def discovery_issuer(self, resolved: Tenant | str) -> str:
        if isinstance(resolved, Tenant):
            return self.issuer(resolved.id)
        if resolved == "consumers":
            return self.issuer(CONSUMERS_TENANT_ID)
        return f"{self.base_url}/{{tenantid}}/v2.0"

    def users_for(self, resolved: Tenant | str, client: Client) -> list[tuple[Tenant, User]]:
        """Who may sign in to this client through this tenant segment."""
        if isinstance(resolved, Tenant):
            return [(resolved, user) for user in resolved.users]
        tenants = [t for t in self.tenants.values() if client.multi_tenant or t.id == client.home_tenant]
        if resolved == "consumers":
            tenants = [t for t in tenants if t.id == CONSUMERS_TENANT_ID]
        return [(tenant, user) for tenant in tenants for user in tenant.users]

    # --- misbehaviour bookkeeping ---------------------------------------------------------

    def take(self, name: str, endpoint: str | None = None) -> dict[str, Any] | None:
        """The options of a pending misbehaviour (consuming one use), or None."""
        armed = self.misbehaviours.take(name, endpoint)
        return armed.options if armed is not None else None

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.requests[endpoint] += 1

    # --- authorize ------------------------------------------------------------------------

    def begin_authorize(self, request: AuthorizeRequest) -> str:
        with self._lock:
            context_id = secrets.token_urlsafe(16)
            self._pending[context_id] = request
            return context_id

    def pending(self, context_id: str) -> AuthorizeRequest | None:
        with self._lock:
            request = self._pending.get(context_id)
            if request is None or self.clock() - request.created > CODE_LIFETIME:
                return None
            return request

    def finish_authorize(self, context_id: str) -> None:
        with self._lock:
            self._pending.pop(context_id, None)

    def issue_code(
        self, request: AuthorizeRequest, tenant_id: str, oid: str, browser: str | None
    ) -> tuple[str, str, str]:
        """A single-use code for this person; returns (code, session_state, browser cookie)."""
        with self._lock:
            session = self._sessions.get(browser or "")
            if session is None or (session.tenant_id, session.oid) != (tenant_id, oid):
                browser = secrets.token_urlsafe(24)
                session = EmulatorSession(str(uuid.uuid4()), tenant_id, oid)
                self._sessions[browser] = session
            session.client_ids.add(request.client_id)
            code = "1.emu-" + secrets.token_urlsafe(48)
            self._codes[code] = CodeGrant(
                segment=request.segment.lower(),
                client_id=request.client_id,
                redirect_uri=request.redirect_uri,
                scope=request.scope,
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                code_challenge_method=request.code_challenge_method,
                tenant_id=tenant_id,
                oid=oid,
                sid=session.sid,
                expires_at=self.clock() + CODE_LIFETIME,
            )
            assert browser is not None
            return code, session.sid, browser

    def browser_session(self, browser: str | None) -> EmulatorSession | None:
        with self._lock:
            return self._sessions.get(browser or "")

    def end_browser_session(self, browser: str | None) -> EmulatorSession | None:
        with self._lock:
            return self._sessions.pop(browser or "", None)

    # --- token endpoint -------------------------------------------------------------------

    def authenticate_client(self, client_id: str | None, credential: ClientCredential) -> Client:
        """Check the client's credential: secret (Basic or body) or client assertion."""
        from hub_entra.emulator.assertions import verify_client_assertion

        if not client_id or client_id not in self.clients:
            raise TokenEndpointError(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        client = self.clients[client_id]
        if self.take("invalid_client") is not None:
            raise TokenEndpointError(
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{client_id}' are expired.",
                status=401,
            )
        if credential.assertion is not None:
            with self._lock:  # the jti replay set is shared between threads
                verify_client_assertion(self, client, credential, self._assertion_ids)
            return client
        if credential.secret is None:
            raise TokenEndpointError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        if not any(secrets.compare_digest(credential.secret, s) for s in client.secrets):
            raise TokenEndpointError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
                status=401,
            )
        return client

    def redeem_code(self, segment: str, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        code = form.get("code", "")
        with self._lock:
            grant = self._codes.get(code)
            if grant is None:
                raise TokenEndpointError(
                    "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."
                )
            if grant.used:
                raise TokenEndpointError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new "
                    "valid code or use an existing refresh token.",
                )
            grant.used = True
        if grant.expires_at < self.clock():
            raise TokenEndpointError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            )
        if grant.client_id != client.client_id:
            raise TokenEndpointError("invalid_grant", 70000, "The code was issued to another client.")
        if grant.segment != segment.lower():
            raise TokenEndpointError(
                "invalid_grant",
                700005,
                "Provided Authorization Code is intended to use against other tenant, thus rejected.",
            )
        if form.get("redirect_uri") != grant.redirect_uri:
            raise TokenEndpointError(
                "invalid_grant",
                50148,
                "The redirect_uri in the token request does not match the one in the authorization request.",
            )
        _check_pkce(grant, form.get("code_verifier"))
        return self._token_response(
            client, grant.tenant_id, grant.oid, grant.sid, grant.scope, grant.nonce, form
        )

    def redeem_refresh_token(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        with self._lock:
            grant = self._refresh_tokens.get(token)
        if grant is None or grant.client_id != client.client_id:
            raise TokenEndpointError(
                "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if grant.oid in self.disabled_oids:
            raise TokenEndpointError("invalid_grant", 50057, "The user account is disabled.")
        if grant.revoked:
            raise TokenEndpointError(
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
            )
        if grant.expires_at < self.clock():
            raise TokenEndpointError(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity.",
            )
        oid = grant.oid
        if self.take("refresh_other_user") is not None:
            oid = str(uuid.uuid4())
        return self._token_response(client, grant.tenant_id, oid, grant.sid, grant.scope, None, form)

    def _token_response(
        self,
        client: Client,
        tenant_id: str,
        oid: str,
        sid: str,
        scope: str,
        nonce: str | None,
        form: Mapping[str, str],
    ) -> dict[str, Any]:
        """Entra's success body: Bearer, full-URI Graph scopes, a new refresh token each
        time, and an ID token when openid was granted."""
        now = self.clock()
        scopes = scope.split()
        access_token = "emu-at." + secrets.token_urlsafe(40)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(_granted_scope(s) for s in scopes if s != "offline_access"),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": access_token,
        }
        with self._lock:
            self._access_tokens[access_token] = AccessGrant(
                client.client_id, tenant_id, oid, now + ACCESS_TOKEN_LIFETIME
            )
            if "offline_access" in scopes:
                refresh_token = "1.emu-rt-" + secrets.token_urlsafe(48)
                self._refresh_tokens[refresh_token] = RefreshGrant(
                    client.client_id, scope, tenant_id, oid, sid, now + REFRESH_TOKEN_LIFETIME
                )
                body["refresh_token"] = refresh_token
        if "openid" in scopes:
            body["id_token"] = self.id_token(client, tenant_id, oid, sid, scopes, nonce)
        if form.get("client_info") == "1":
            info = {"uid": oid, "utid": tenant_id}
            body["client_info"] = _b64url(_json(info))
        return body

    def id_token(
        self,
        client: Client,
        tenant_id: str,
        oid: str,
        sid: str,
        scopes: list[str],
        nonce: str | None,
    ) -> str:
        """A v2.0 ID token with Entra's claim shapes, bent by any pending misbehaviour."""
        now = int(self.clock())
        user = self._user(tenant_id, oid)
        claims: dict[str, Any] = {
            "aud": client.client_id,
            "iss": self.issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "sub": _b64url(hashlib.sha256(f"{client.client_id}:{tenant_id}:{oid}".encode()).digest()),
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16)[:22],
            "ver": "2.0",
            "sid": sid,
        }
        if "profile" in scopes:
            claims["oid"] = oid
            if user is not None:
                claims["name"] = user.display_name
                claims["preferred_username"] = user.email
        if user is not None and ("email" in scopes or "email" in client.optional_id_token_claims):
            claims["email"] = user.mail_address
            if "xms_edov" in client.optional_id_token_claims:
                claims["xms_edov"] = self._domain_owner_verified(tenant_id, user.mail_address)
        if nonce is not None:
            claims["nonce"] = nonce
        if user is not None:
            _add_authorization_claims(claims, user, self.base_url, oid)
        return self._sign(self._bend(claims))

    def _domain_owner_verified(self, tenant_id: str, address: str) -> bool:
        """Entra's `xms_edov`: the address's domain is a verified domain of the person's own
        tenant (alice@contoso.example in Contoso), not for an address elsewhere (Mallory's
        Mail claims alice's Contoso address from Fabrikam)."""
        tenant = self.tenants.get(tenant_id)
        return tenant is not None and address.rpartition("@")[2].lower() == tenant.domain.lower()

    def _bend(self, claims: dict[str, Any]) -> dict[str, Any]:
        if self.take("wrong_issuer") is not None:
            claims["iss"] = "https://example.org/"
        if self.take("wrong_audience") is not None:
            claims["aud"] = str(uuid.uuid4())
        if self.take("expired_id_token") is not None:
            for name in ("iat", "nbf", "exp"):
                claims[name] -= 7200  # expired about an hour ago
        if self.take("wrong_nonce") is not None:
            claims["nonce"] = "not-the-nonce-you-sent"
        if "xms_edov" in claims and self.take("email_domain_unverified") is not None:
            claims["xms_edov"] = False
        return claims

    def _sign(self, claims: dict[str, Any]) -> str:
        with self._lock:
            key = self.signing_keys[-1]
        if self.take("unknown_kid") is not None:
            key = CertifiedKey.generate()
        token = jwt.encode({"alg": "RS256", "kid": key.x5t}, claims, key.jose_key)
        if self.take("bad_signature") is not None:
            head, payload, signature = token.split(".")
            flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
            token = f"{head}.{payload}.{flipped}"
        return token

    # --- Graph ----------------------------------------------------------------------------

    def graph_user(self, access_token: str | None) -> tuple[User, AccessGrant] | str:
        """The person an access token belongs to, or Graph's 401 message."""
        if not access_token:
            return "Access token is empty."
        with self._lock:
            grant = self._access_tokens.get(access_token)
        if grant is None:
            return "Access token validation failure. Invalid audience."
        if grant.expires_at < self.clock():
            return "Access token has expired or is not yet valid."
        user = self._user(grant.tenant_id, grant.oid)
        if user is None:
            return "Access token validation failure."
        return user, grant


@dataclass(frozen=True)
class ClientCredential:
    """What a token request offered to authenticate the client."""

    secret: str | None = field(default=None, repr=False)
    assertion: str | None = field(default=None, repr=False)
    token_endpoint: str = ""


def _check_pkce(grant: CodeGrant, verifier: str | None) -> None:
    if grant.code_challenge is None:
        return
    if not verifier:
        raise TokenEndpointError(
            "invalid_request", 501481, "The Code_Verifier is missing from the token request."
        )
    if grant.code_challenge_method == "S256":
        computed = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    else:
        computed = verifier
    if not secrets.compare_digest(computed, grant.code_challenge):
        raise TokenEndpointError(
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )


def _add_authorization_claims(claims: dict[str, Any], user: User, base_url: str, oid: str) -> None:
    if user.app_roles:
        claims["roles"] = list(user.app_roles)
    if user.groups_overage:
        claims["_claim_names"] = {"groups": "src1"}
        claims["_claim_sources"] = {"src1": {"endpoint": f"{base_url}/v1.0/users/{oid}/getMemberObjects"}}
    elif user.groups:
        claims["groups"] = list(user.groups)


def _granted_scope(scope: str) -> str:
    if scope in OIDC_SCOPES or "://" in scope:
        return scope
    return GRAPH_SCOPE_PREFIX + scope


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()
