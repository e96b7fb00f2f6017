"""The applications registry and the signing keys: `hub apps ...`, `hub signing-keys ...`, the
services behind them, and what they store (hashes and ciphertext, never secrets)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.core.db import write_transaction
from hub.core.models import Application, AuditEvent, SigningKey
from hub.issuer import applications, signing


def audit_types(app) -> list[str]:
    with app.extensions["hub"].db.session() as session:
        return list(session.scalars(select(AuditEvent.type).order_by(AuditEvent.seq)))


def test_apps_create_json_prints_client_id_and_secret_once_and_stores_only_a_hash(hub_cli, app):
    result = hub_cli(
        "apps",
        "create",
        "Grafana",
        "--redirect-uri",
        "https://grafana.example/login/generic_oauth",
        "--post-logout-redirect-uri",
        "https://grafana.example/",
        "--backchannel-logout-uri",
        "https://grafana.example/bcl",
        "--json",
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert set(printed) == {"client_id", "client_secret"}
    with app.extensions["hub"].db.session() as session:
        row = session.scalar(select(Application))
        assert row.client_id == printed["client_id"]
        assert row.secret_hash == applications.hash_secret(printed["client_secret"])
        assert printed["client_secret"] not in json.dumps(applications.describe(row))
        assert applications.check_secret(row, printed["client_secret"])
        assert not applications.check_secret(row, printed["client_secret"] + "x")
    shown = hub_cli("apps", "show", printed["client_id"])
    assert shown.exit_code == 0 and printed["client_secret"] not in shown.output
    assert json.loads(shown.stdout)["backchannel_logout_uri"] == "https://grafana.example/bcl"
    assert "application.create" in audit_types(app)


@pytest.mark.parametrize(
    ("options", "accepted"),
    [
        ((), ["client_secret_basic", "client_secret_post"]),
        (("--auth-method", "client_secret_basic"), ["client_secret_basic"]),
        (("--auth-method", "client_secret_post"), ["client_secret_post"]),
    ],
)
def test_apps_create_without_an_auth_method_accepts_the_secret_either_way(hub_cli, app, options, accepted):
    created = hub_cli("apps", "create", "Wiki", "--redirect-uri", "https://wiki.example/cb", *options, "--json")
    assert created.exit_code == 0, created.output
    shown = json.loads(hub_cli("apps", "show", json.loads(created.stdout)["client_id"]).stdout)
    assert shown["token_endpoint_auth_methods"] == accepted


def test_public_app_has_no_secret(hub_cli, app):
    result = hub_cli(
        "apps", "create", "CLI tool", "--redirect-uri", "http://127.0.0.1/callback", "--public", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["client_secret"] is None
    rotated = hub_cli("apps", "rotate-secret", json.loads(result.stdout)["client_id"])
    assert rotated.exit_code != 0 and "public application" in str(rotated.exception or rotated.output)


def test_rotate_secret_replaces_the_old_one(hub_cli, app):
    created = json.loads(
        hub_cli("apps", "create", "Wiki", "--redirect-uri", "https://wiki.example/cb", "--json").stdout
    )
    rotated = hub_cli("apps", "rotate-secret", created["client_id"], "--json")
    assert rotated.exit_code == 0, rotated.output
    new_secret = json.loads(rotated.stdout)["client_secret"]
    assert new_secret != created["client_secret"]
    with app.extensions["hub"].db.session() as session:
        row = applications.get(session, created["client_id"])
        assert applications.check_secret(row, new_secret)
        assert not applications.check_secret(row, created["client_secret"])
    assert "application.rotate_secret" in audit_types(app)


def test_list_disable_enable_delete(hub_cli, app):
    created = json.loads(
        hub_cli("apps", "create", "Wiki", "--redirect-uri", "https://wiki.example/cb", "--json").stdout
    )
    client_id = created["client_id"]
    listed = hub_cli("apps", "list")
    assert client_id in listed.stdout and "enabled" in listed.stdout
    assert created["client_secret"] not in listed.stdout
    assert hub_cli("apps", "disable", client_id).exit_code == 0
    assert "disabled" in hub_cli("apps", "list").stdout
    with app.extensions["hub"].db.session() as session:
        assert applications.find_enabled(session, client_id) is None
    assert hub_cli("apps", "enable", client_id).exit_code == 0
    with app.extensions["hub"].db.session() as session:
        assert applications.find_enabled(session, client_id) is not None
    assert hub_cli("apps", "delete", client_id, "--yes").exit_code == 0
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(Application)) is None
    assert audit_types(app)[-3:] == ["application.disable", "application.enable", "application.delete"]


@pytest.mark.parametrize(
    ("uri", "public", "message"),
    [
        ("http://evil.example/cb", False, "plain http"),
        ("https://app.example/cb#frag", False, "fragment"),
        ("myapp:/cb", False, "custom scheme"),
        ("javascript:alert(1)", True, "forbidden scheme"),
        ("/relative", False, "absolute"),
    ],
)
def test_bad_redirect_uris_are_refused_with_a_reason(db, uri, public, message):
    with write_transaction(db) as session, pytest.raises(applications.ApplicationError, match=message):
        applications.create(session, "App", [uri], public=public)


def test_exact_redirect_matching_with_loopback_port_freedom_for_public_apps(db):
    with write_transaction(db) as session:
        native = applications.create(session, "Native", ["http://127.0.0.1/cb"], public=True).application
        web = applications.create(
            session, "Web", ["https://app.example/cb", "http://127.0.0.1:8080/cb"]
        ).application
        assert applications.redirect_uri_matches(native, "http://127.0.0.1:53127/cb")
        assert not applications.redirect_uri_matches(native, "http://127.0.0.1:53127/other")
        assert not applications.redirect_uri_matches(native, "http://localhost:53127/cb")
        assert applications.redirect_uri_matches(web, "https://app.example/cb")
        assert not applications.redirect_uri_matches(web, "https://app.example/cb/")
        assert not applications.redirect_uri_matches(web, "https://app.example/cb?x=1")
        assert not applications.redirect_uri_matches(web, "http://127.0.0.1:9090/cb")


def test_bad_cli_input_is_a_clear_error_and_writes_nothing(hub_cli, app):
    result = hub_cli("apps", "create", "Bad", "--redirect-uri", "http://evil.example/cb")
    assert result.exit_code != 0
    assert "plain http" in str(result.exception)
    with app.extensions["hub"].db.session() as session:
        assert session.scalar(select(Application)) is None


def test_signing_keys_are_sealed_published_and_rotated_without_restart(hub_cli, app):
    rt = app.extensions["hub"]
    first = rt.signing_keys.signing_key("RS256")
    published = {key["kid"] for key in rt.signing_keys.jwks()["keys"]}
    assert first.kid in published and len(published) == 4  # current and next, RS256 and ES256
    with rt.db.session() as session:
        rows = session.scalars(select(SigningKey)).all()
        for row in rows:
            assert "d" not in row.public_jwk and "p" not in row.public_jwk
            assert b'"d"' not in row.ciphertext
        upcoming = next(row.kid for row in rows if row.status == "next" and row.alg == "RS256")
    result = hub_cli("signing-keys", "rotate")
    assert result.exit_code == 0, result.output
    assert upcoming in result.stdout
    rt.signing_keys.invalidate()  # what CACHE_SECONDS does on its own in other processes
    assert rt.signing_keys.signing_key("RS256").kid == upcoming
    statuses = {
        row.split("\t")[1]: row.split("\t")[2]
        for row in hub_cli("signing-keys", "status").stdout.splitlines()
        if row.startswith("RS256\t")
    }
    assert statuses[first.kid] == "previous" and statuses[upcoming] == "current"
    assert list(statuses.values()).count("next") == 1
    assert first.kid in {key["kid"] for key in rt.signing_keys.jwks()["keys"]}
    assert hub_cli("signing-keys", "retire").exit_code == 0
    rt.signing_keys.invalidate()
    assert first.kid not in {key["kid"] for key in rt.signing_keys.jwks()["keys"]}
    assert {"signing_key.rotate", "signing_key.retire"} <= set(audit_types(app))


def test_a_sealed_signing_key_copied_to_another_kid_does_not_open(app):
    rt = app.extensions["hub"]
    rt.signing_keys.signing_key("RS256")
    with rt.db.session() as session:
        rows = session.scalars(select(SigningKey).where(SigningKey.alg == "RS256")).all()
        current, upcoming = sorted(rows, key=lambda row: row.status)
        assert rt.vault.keyring.decrypt(current.ring_key_id, current.ciphertext, signing.binding(current.kid))
        with pytest.raises(Exception, match="integrity"):
            rt.vault.keyring.decrypt(current.ring_key_id, upcoming.ciphertext, signing.binding(current.kid))


def test_es256_keys_on_request(app):
    rt = app.extensions["hub"]
    key = rt.signing_keys.signing_key("ES256")
    assert key.as_dict(private=False)["kty"] == "EC"
    rt.signing_keys.invalidate()
    algs = {key["alg"] for key in rt.signing_keys.jwks()["keys"]}
    assert algs == {"RS256", "ES256"}
    with rt.db.session() as session:
        assert {row.status for row in session.scalars(select(SigningKey).where(SigningKey.alg == "ES256"))} == {
            "current",
            "next",
        }


def test_token_key_rotation_reseals_signing_keys_and_retire_waits_for_them(app):
    from hub.actions.keyring import key_usage, reseal, retire
    from hub.core.keyring import KeyRing

    rt = app.extensions["hub"]
    before = rt.signing_keys.signing_key("RS256")
    old_ring = rt.vault.keyring
    assert key_usage(rt.db)[old_ring.newest_id] == 4  # two RS256 and two ES256 keys
    new_ring = old_ring.with_new_key()
    with pytest.raises(Exception, match="still sealed"):
        retire(rt.db, rt.audit, new_ring.text(), old_ring.newest_id, via="cli")
    reseal(rt.db, rt.audit, new_ring, via="cli")
    assert key_usage(rt.db) == {new_ring.newest_id: 4}
    retired = KeyRing.parse(retire(rt.db, rt.audit, new_ring.text(), old_ring.newest_id, via="cli"))
    fresh = signing.SigningKeys(rt.db, retired)
    assert fresh.signing_key("RS256").as_dict(private=True)["d"] == before.as_dict(private=True)["d"]


def test_a_service_app_needs_no_redirect_uri(hub_cli, app):
    result = hub_cli("apps", "create", "Reports", "--grant-type", "client_credentials", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(hub_cli("apps", "show", json.loads(result.stdout)["client_id"]).stdout)
    assert shown["grant_types"] == ["client_credentials"] and shown["redirect_uris"] == []
    refused = hub_cli("apps", "create", "Web", "--json")
    assert refused.exit_code != 0 and "--redirect-uri" in str(refused.exception)
