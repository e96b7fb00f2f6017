"""Test kit for provider plugins: a throwaway hub app (`hub.testing.app`) and the provider
conformance suite (`hub.testing.conformance`). Imported only by tests."""
