"""Many processes: codes, refresh tokens, grants, keys and sessions live in the database, so any
hub process serves any step. One process authorizes, another redeems and refreshes, the first
refreshes again and answers userinfo (run on PostgreSQL in the PostgreSQL pass)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests


@pytest.fixture
def second_process(issuer, hub_config, tmp_path) -> Iterator[str]:
    """Another `hub serve` process on the same database, instance keys and issuer address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HUB_INSTANCE_PATH": hub_config["instance_path"],
        "HUB_DATABASE_URL": hub_config["database_url"],
        "HUB_BASE_URL": issuer.base,
        "HUB_DOTENV": str(tmp_path / "none.env"),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli.main import main; main()", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 60, False
        while not ready and time.monotonic() < deadline and process.poll() is None:
            try:
                ready = requests.get(f"{url}/readyz", timeout=5).status_code == 200
            except requests.ConnectionError:
                time.sleep(0.2)
        assert ready, process.stderr.read() if process.poll() is not None else "not ready in time"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


def test_the_flow_crosses_two_processes(issuer, second_process):
    issuer.sign_in("alice")
    wiki = issuer.register("Wiki", first_party=True)
    oauth = issuer.oauth(wiki)
    authorized = issuer.authorize(oauth)  # process one: the browser's authorization
    token = oauth.fetch_token(  # process two: redeems the code process one stored
        f"{second_process}/oauth2/token",
        authorization_response=authorized.location,
        code_verifier=authorized.code_verifier,
    )
    _, claims = issuer.decode(token["id_token"])  # signed with the key process one published
    assert claims["iss"] == issuer.base and claims["nonce"] == authorized.nonce
    refreshed = oauth.refresh_token(f"{second_process}/oauth2/token", refresh_token=token["refresh_token"])
    again = oauth.refresh_token(f"{issuer.base}/oauth2/token", refresh_token=refreshed["refresh_token"])
    assert again["access_token"]
    reuse = requests.post(  # reuse detection sees what the other process rotated (and then used)
        f"{second_process}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(wiki.client_id, wiki.client_secret),
        timeout=10,
    )
    assert reuse.json()["error"] == "invalid_grant"
    info = requests.get(
        f"{issuer.base}/oauth2/userinfo", headers={"Authorization": f"Bearer {again['access_token']}"}, timeout=10
    )
    assert info.status_code == 401  # the family was revoked by the reuse in the other process
    fresh = issuer.authorize(oauth)
    token = oauth.fetch_token(
        f"{second_process}/oauth2/token", authorization_response=fresh.location, code_verifier=fresh.code_verifier
    )
    info = requests.get(
        f"{second_process}/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10
    )
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
