"""What the issuer is built from: the collaborators the composition root hands it, not the Runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy.orm import Session

from hub.issuer.signing import SigningKeys

AccountCheck = Callable[[Session, int, "str | None"], "str | None"]


@dataclass(frozen=True)
class IssuerConfig:
    """Everything the authorization server reads besides the request and its transaction. Built
    by the web layer (hub.web.issuer_server) from the Runtime, so the issuer imports neither it
    nor Flask, and a test can build one by hand."""

    issuer: str
    """The issuer identifier: the hub's base URL without a trailing slash."""
    secret_key: bytes = field(repr=False)
    """The hub's secret key: pairwise subjects, the `sid` an application sees, refresh successors."""
    signing_keys: SigningKeys
    hook: Any
    """The plugins' hook caller (pluggy's HookRelay): `hub_token_claims`."""
    refresh_reuse_grace: timedelta
    """How long a repeated refresh token is answered again instead of revoking its family."""
    http: requests.Session
    """Fetches an application's jwks_uri (private_key_jwt); its calls must carry timeouts."""
    account_check: AccountCheck | None = None
    """Asked before a refresh grant is answered: (the exchange's transaction, user id, the
    provider the family was signed in through) -> None to proceed, or why the upstream account
    no longer admits it (invalid_grant). The composition root passes hub.upstream.checks in,
    so the issuer never imports the provider side."""
