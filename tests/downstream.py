"""The whole picture over real sockets on 127.0.0.1: the Entra emulator, the hub (its `entra`
provider pointed at the emulator) and example applications (hub_demo.example_app) registered
with the hub, each served by its own loopback server. Used by the end-to-end and browser tests
of the issuer side."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.core.db import write_transaction
from hub.issuer import applications
from hub.serving import LoopbackServer
from hub_demo.example_app import SessionStore, create_example_app
from hub_entra.emulator import EntraEmulator
from hub_entra.emulator.directory import CONTOSO_TENANT_ID


@dataclass
class ExampleApp:
    name: str
    base_url: str
    client_id: str
    client_secret: str | None = field(repr=False)
    store: SessionStore

    def sessions(self) -> int:
        return len(self.store)


@dataclass
class Stack:
    """The emulator, the hub and the applications, all listening on loopback ports."""

    emulator: EntraEmulator
    hub_url: str
    hub: Any
    apps: dict[str, ExampleApp]
    _stack: ExitStack = field(repr=False)

    @property
    def rt(self) -> Any:
        return self.hub.extensions["hub"]

    def add_app(self, name: str, *, first_party: bool = True, scope: str = "openid profile email") -> ExampleApp:
        """Register an example application with the hub and serve it on a free port."""
        server = LoopbackServer(name=f"example-{name}")
        base_url = server.base_url
        with write_transaction(self.rt.db) as session:
            created = applications.create(
                session,
                name,
                [f"{base_url}/callback"],
                first_party=first_party,
                post_logout_redirect_uris=[f"{base_url}/"],
                backchannel_logout_uri=f"{base_url}/backchannel-logout",
            )
        slug = "app_" + "".join(ch for ch in name.lower() if ch.isalnum())
        server.app = create_example_app(
            issuer=self.hub_url,
            client_id=created.application.client_id,
            client_secret=created.client_secret,
            base_url=base_url,
            name=name,
            slug=slug,
            scope=scope,
        )
        self._stack.enter_context(server)
        app = ExampleApp(name, base_url, created.application.client_id, created.client_secret, server.app.extensions["example_app"])
        self.apps[name] = app
        return app


@contextmanager
def running_stack(emulator: EntraEmulator, live_hub: Callable[..., tuple[str, Any]], **settings: Any) -> Iterator[Stack]:
    """The hub (the `live_hub` fixture) with its `entra` provider pointed at the `emulator`
    fixture, and further `settings`; applications added with `Stack.add_app` stop when the
    block ends."""

    def providers(base_url: str) -> dict[str, Any]:
        redirect_uri = f"{base_url}/auth/entra/callback"
        emulator.add_redirect_uri(redirect_uri)
        return {"entra": {"type": "entra", "name": "Microsoft", **emulator.provider_settings(CONTOSO_TENANT_ID), "redirect_uri": redirect_uri}}

    base_url, hub = live_hub(providers, ("entra",), **settings)
    with ExitStack() as stack:
        yield Stack(emulator, base_url, hub, {}, stack)


def eventually(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Wait for something the hub does in the background (a back-channel delivery); the bound
    is generous because the machine is shared, and the test fails, not hangs, past it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
