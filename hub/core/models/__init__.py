"""The hub's tables as SQLAlchemy 2.x typed models; migrations/ must always agree with them.

Secret material never sits in a plain column: token sets hold ciphertext only (hub.upstream.vault),
sessions and pending sign-ins are stored under a hash of the id the browser holds, and the
PKCE verifier and nonce are derived from the state and the secret key rather than stored.

Callers import every model from `hub.core.models`; importing it registers every table in
`Base.metadata` (migrations/env.py and the schema-drift check read it). The modules inside
group the tables by concept: `people`, `sessions`, `operations`, `issuer`, `provisioning`, on `base`.
"""

from hub.core.models.base import (
    NAMING_CONVENTION,
    Base,
    UTCDateTime,
    clip,
    column_length,
    new_public_subject,
    utcnow,
)
from hub.core.models.issuer import (
    Application,
    AuthorizationCode,
    BackchannelLogout,
    ClientAssertion,
    Grant,
    RefreshToken,
    SigningKey,
    SsoSession,
    SsoSessionApplication,
    TokenFamily,
)
from hub.core.models.operations import ApiKey, AuditEvent, AuditPending, AuditRetentionGate, SeenLogoutToken
from hub.core.models.people import LinkedAccount, TokenSet, User
from hub.core.models.provisioning import ProvisionedGroup, ProvisionedUser, ScimToken
from hub.core.models.sessions import PendingSignin, WebSession

__all__ = [
    "NAMING_CONVENTION",
    "ProvisionedGroup",
    "ProvisionedUser",
    "ScimToken",
    "ApiKey",
    "Application",
    "AuditEvent",
    "AuditPending",
    "AuditRetentionGate",
    "AuthorizationCode",
    "BackchannelLogout",
    "Base",
    "ClientAssertion",
    "Grant",
    "LinkedAccount",
    "PendingSignin",
    "RefreshToken",
    "SeenLogoutToken",
    "SigningKey",
    "SsoSession",
    "SsoSessionApplication",
    "TokenFamily",
    "TokenSet",
    "UTCDateTime",
    "User",
    "WebSession",
    "clip",
    "column_length",
    "new_public_subject",
    "utcnow",
]
