"""The relying party: providers sign people in (registry, sign-in, callback, vault, the protocol toolkit)."""
