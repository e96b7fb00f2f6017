"""Test kit for provider plugins (install `identity-hub[testing]`): a throwaway hub app
(`hub.testing.app`), a generic fake OAuth 2.0 / OpenID Connect server on 127.0.0.1
(`hub.testing.authserver`) and the provider conformance suite (`hub.testing.conformance`).
Imported only by tests."""
