"""The issuer side: the hub as OpenID Provider for the organisation's own applications.

Built on Authlib's authorization server (hub.issuer.server). Never imports the relying-party
toolkit (hub.upstream.protocol) and is never imported by it; both meet in accounts, sessions, the key ring
and the audit log.
"""
