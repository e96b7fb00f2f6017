"""Identity Hub core: the names a plugin imports (`from hub import hookimpl`)."""

import pluggy

PROJECT_NAME = "identity_hub"
"""pluggy project name and the entry-point group plugins register under."""

HUB_API_VERSION = 1
"""Version of the plugin contract. A plugin module declares the version it was built for as
a module attribute `hub_api_version`; the hub refuses one that differs, naming it."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["HUB_API_VERSION", "PROJECT_NAME", "hookimpl", "hookspec"]
