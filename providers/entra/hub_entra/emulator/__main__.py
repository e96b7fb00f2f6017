"""Runs the Entra emulator in the foreground: `python -m hub_entra.emulator --port 5002`."""

from __future__ import annotations

import argparse
import contextlib
import json
import time

from hub_entra.emulator.directory import DEMO_REDIRECT_URIS, demo_clients
from hub_entra.emulator.server import EntraEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hub_entra.emulator",
        description="A local Entra ID v2.0 + Graph emulator (binds 127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=5002, help="port (0 picks a free one)")
    parser.add_argument(
        "--public-host", default="127.0.0.1", help="host name in URLs: 127.0.0.1 or localhost"
    )
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="register an extra redirect URI for the demo client (repeatable)",
    )
    parser.add_argument("--auto-sign-in", metavar="EMAIL", help="skip the pages, sign in EMAIL")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    clients = demo_clients((*DEMO_REDIRECT_URIS, *args.redirect_uri))
    emulator = EntraEmulator(
        clients=clients, port=args.port, public_host=args.public_host, verbose=args.verbose
    )
    if args.auto_sign_in:
        emulator.auto_sign_in = args.auto_sign_in
    emulator.start()
    print(f"Entra emulator on {emulator.base_url} (for demos and tests only). Provider settings:")
    print(json.dumps(emulator.provider_settings(), indent=2))
    print("Users:", ", ".join(u.email for t in emulator.tenants.values() for u in t.users))
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    emulator.stop()


if __name__ == "__main__":
    main()
