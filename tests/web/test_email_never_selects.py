"""Issue 9 §1: an email address never selects a person, at any entry point.

Mallory's scenario, as in the demo: her provider profile claims Alice's address (unverified)
and she signs in before Alice does. Each entry point that picks a person (the CLI, the token
API, the admin console) must not hand Mallory what belongs to Alice.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.core import apikeys
from hub.core.db import write_transaction
from hub.core.models import LinkedAccount, User
from tests.conftest import sign_in
from tests.e2e.test_cli import hub

ALICE = "alice@example.test"


@pytest.fixture
def mallory_first(app, idp) -> dict[str, int]:
    """Mallory (unverified `alice@...`) signs in first, then Alice (her provider verified it)."""
    idp.users["alice"].email_verified = True
    sign_in(app.test_client(), idp, "mallory")
    sign_in(app.test_client(), idp, "alice")
    with app.extensions["hub"].db.session() as session:
        ids = dict(session.execute(select(LinkedAccount.subject, LinkedAccount.user_id)).all())
        assert session.scalars(select(User.email)).all() == [ALICE, ALICE]
    return {"mallory": ids["sub-mallory"], "alice": ids["sub-alice"]}


def admins(app) -> list[int]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(User.id).where(User.is_admin.is_(True))))


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_grant_by_email_lists_every_match_and_changes_nothing(app, hub_config, mallory_first, tmp_path):
    env = {
        "HUB_INSTANCE_PATH": hub_config["instance_path"],
        "HUB_DATABASE_URL": hub_config["database_url"],
        "HUB_DOTENV": str(tmp_path / "none.env"),
        "CWD": str(tmp_path),
    }
    by_email = hub("admin", "grant", ALICE, env=env)
    assert by_email.returncode == 2
    assert admins(app) == []  # before the fix: Mallory, the first to sign in with the address
    listed = [line for line in by_email.stderr.splitlines() if line.strip().startswith("user ")]
    assert len(listed) == 2
    mallory_line, alice_line = sorted(listed, key=lambda line: "sub-alice" in line)
    assert f"user {mallory_first['mallory']} " in mallory_line and "subject sub-mallory" in mallory_line
    assert "provider fake" in mallory_line and "NOT verified" in mallory_line
    assert f"user {mallory_first['alice']} " in alice_line and "(verified by the provider)" in alice_line
    assert "user id" in by_email.stderr

    by_id = hub("admin", "grant", str(mallory_first["alice"]), env=env)
    assert by_id.returncode == 0, by_id.stderr
    assert admins(app) == [mallory_first["alice"]]
    listing = hub("admin", "list", env=env).stdout
    assert f"{mallory_first['alice']}\t{ALICE}\t" in listing  # verified: shown plain

    by_account = hub("admin", "revoke", "fake:sub-alice", env=env)
    assert by_account.returncode == 0, by_account.stderr
    assert admins(app) == []
    for bad in ("²", "99999999999999999999999", "fake:nobody", "nobody"):
        refused = hub("admin", "grant", bad, env=env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert admins(app) == []


# --- the token API ---------------------------------------------------------------------------------


def lookup(app, body: Any) -> Any:
    rt = app.extensions["hub"]
    with write_transaction(rt.db) as session:
        key = apikeys.create(session, "crm").plaintext
    return app.test_client().post("/api/v1/access-token", json=body, headers={"Authorization": f"Bearer {key}"})


def test_api_email_alone_is_refused_and_never_returns_mallorys_token(app, idp, mallory_first):
    response = lookup(app, {"email": ALICE})
    assert response.status_code == 400  # before the fix: 200 with Mallory's token, or 409 ambiguous
    error = response.get_json()["error"]
    assert error["code"] == "bad_request" and "provider_id" in error["message"] and "verified" in error["message"]


def test_api_email_matches_only_an_address_the_provider_verified(app, idp, mallory_first):
    answer = lookup(app, {"email": ALICE.upper(), "provider_id": "fake"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["subject"] == "sub-alice"
    assert idp.access[answer.get_json()["access_token"]].sub == "sub-alice"

    idp.users["alice"].email_verified = False  # Alice signs in again; now nobody's address is verified
    sign_in(app.test_client(), idp, "alice")
    nobody = lookup(app, {"email": ALICE, "provider_id": "fake"})
    assert nobody.status_code == 404 and "verified" in nobody.get_json()["error"]["message"]


# --- the console -----------------------------------------------------------------------------------


def test_console_marks_unverified_addresses(app, idp, mallory_first):
    admin = app.test_client()
    sign_in(admin, idp, "alice")  # alice holds the provider's admin role
    listing = admin.get("/admin/accounts").get_data(as_text=True)
    mallory_row = next(row for row in listing.split("<tr>") if "sub-mallory" in row)
    alice_row = next(row for row in listing.split("<tr>") if "sub-alice" in row)
    assert ">unverified</span>" in mallory_row and "unverified" not in alice_row

    mallory_page = admin.get(f"/admin/users/{mallory_first['mallory']}").get_data(as_text=True)
    assert mallory_page.count(">unverified</span>") == 2  # the user's address and the account's
    alice_page = admin.get(f"/admin/users/{mallory_first['alice']}").get_data(as_text=True)
    assert ">unverified</span>" not in alice_page

    csv_text = admin.get("/admin/accounts.csv").get_data(as_text=True)
    header, *rows = csv_text.splitlines()
    column = header.split(",").index("email_verified")
    assert sorted(row.split(",")[column] for row in rows) == ["no", "yes"]


def test_my_account_marks_an_unverified_address(app, idp, mallory_first):
    mallory = app.test_client()
    sign_in(mallory, idp, "mallory")
    page = mallory.get("/account").get_data(as_text=True)
    assert page.count(">unverified</span>") == 2  # her own address and her linked account's
    alice = app.test_client()
    sign_in(alice, idp, "alice")
    assert ">unverified</span>" not in alice.get("/account").get_data(as_text=True)
