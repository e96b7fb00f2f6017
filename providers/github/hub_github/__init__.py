"""GitHub provider type for Identity Hub (entry point group `identity_hub`).

Install `hub-provider-github` and configure a provider with `type = "github"`, the OAuth app's
`client_id` and `client_secret`. `hub_github.fake.FakeGitHub` is a small GitHub for tests.
"""

from __future__ import annotations

from hub import hookimpl
from hub_github.provider import GitHubProvider

hub_api_version = 1
"""The plugin contract this package was built for (hub.HUB_API_VERSION)."""


@hookimpl
def hub_provider_types() -> list[type[GitHubProvider]]:
    return [GitHubProvider]


__all__ = ["GitHubProvider", "hub_api_version", "hub_provider_types"]
