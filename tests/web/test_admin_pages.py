"""The admin console's pages: keyset paging, search, filters, sorting, CSV, chart, audit, providers."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.cli.seed import seed
from hub.console import cursors, listing
from hub.console.token_health import TOKEN_STATES
from hub.core.db import write_transaction
from hub.core.models import AuditEvent, LinkedAccount, TokenSet, User, utcnow
from hub.provider import HealthCheck
from tests import fakeidp


@pytest.fixture
def seeded(rt):
    seed(rt, 130, providers=("fake", "fake2", "gone"))
    return rt


def every_row(rt, filters, size):
    rows, after, pages = [], None, 0
    with rt.db.session() as session:
        while True:
            page = listing.list_page(session, filters, after, size)
            rows += page.rows
            pages += 1
            if page.next_cursor is None:
                return rows, pages
            after = page.next_cursor


def expected_order(rows, sort):
    if sort == "linked_desc":
        return sorted(rows, key=lambda r: (r.linked_at, r.id), reverse=True)
    if sort == "linked_asc":
        return sorted(rows, key=lambda r: (r.linked_at, r.id))
    if sort == "provider":
        return sorted(rows, key=lambda r: (r.provider_id, r.subject))
    with_time = sorted((r for r in rows if r.last_sign_in_at), key=lambda r: (r.last_sign_in_at, r.id), reverse=True)
    return with_time + sorted((r for r in rows if not r.last_sign_in_at), key=lambda r: r.id, reverse=True)


@pytest.mark.parametrize("sort", list(cursors.SORTS))
def test_keyset_pages_cover_every_row_once_in_order(seeded, sort):
    with seeded.db.session() as session:
        total = session.scalar(select(func.count()).select_from(LinkedAccount))
    # Some accounts never signed in: the NULL tail of the sign-in sort is paged too.
    with write_transaction(seeded.db) as session:
        for account in session.scalars(select(LinkedAccount).order_by(LinkedAccount.id).limit(12)):
            account.last_sign_in_at = None
    rows, pages = every_row(seeded, listing.ListFilters(sort=sort), 7)
    assert len(rows) == total == len({r.id for r in rows})
    assert pages == -(-total // 7)
    assert [r.id for r in rows] == [r.id for r in expected_order(rows, sort)]


def test_pages_through_http_with_next_links(seeded, admin):
    rows, url, pages = 0, "/admin/accounts?sort=linked_asc&size=40", 0
    while url:
        html = admin.get(url).get_data(as_text=True)
        rows += html.count('<td><a href="/admin/users/')
        pages += 1
        found = re.search(r'href="(/admin/accounts\?[^"]*)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert (rows, pages) == (131, 4)  # seeded accounts and alice's, each once
    assert "First page" in html


def test_filters_match_the_python_classification(seeded):
    everything, _ = every_row(seeded, listing.ListFilters(), 200)
    for state in TOKEN_STATES:
        rows, _ = every_row(seeded, listing.ListFilters(state=state), 25)
        assert {r.id for r in rows} == {r.id for r in everything if r.state == state}
        assert all(r.state == state for r in rows)
    assert {r.state for r in everything} == set(TOKEN_STATES)
    rows, _ = every_row(seeded, listing.ListFilters(provider_id="fake2", state="reauth"), 5)
    assert {r.id for r in rows} == {r.id for r in everything if r.provider_id == "fake2" and r.state == "reauth"}


def test_search_by_email_name_prefix_and_exact_subject(seeded):
    everything, _ = every_row(seeded, listing.ListFilters(), 200)
    sample = everything[17]
    email_prefix = sample.email[:6].upper()
    rows, _ = every_row(seeded, listing.ListFilters(search=email_prefix), 50)
    assert sample.id in {r.id for r in rows}
    assert all((r.email or "").lower().startswith(email_prefix.lower()) or (r.display_name or "").lower().startswith(email_prefix.lower()) for r in rows)
    rows, _ = every_row(seeded, listing.ListFilters(search=sample.subject), 50)
    assert [r.id for r in rows] == [sample.id]
    rows, _ = every_row(seeded, listing.ListFilters(search=sample.subject[:-1]), 50)
    assert sample.id not in {r.id for r in rows}
    name = sample.display_name.split()[0].lower()
    rows, _ = every_row(seeded, listing.ListFilters(search=name), 50)
    assert {r.id for r in rows} >= {r.id for r in everything if (r.display_name or "").lower().startswith(name)}


def test_search_treats_wildcards_literally(app, admin, rt):
    with write_transaction(rt.db) as session:
        user = User(display_name="Percent", email="p@x.test")
        session.add(user)
        session.flush()
        session.add(LinkedAccount(user_id=user.id, provider_id="fake", subject="s-%", issuer="i", display_name="100% Real", email="pct@x.test"))
    with rt.db.session() as session:
        assert listing.list_page(session, listing.ListFilters(search="%")).rows == []
        assert [r.display_name for r in listing.list_page(session, listing.ListFilters(search="100%")).rows] == ["100% Real"]
        assert [r.display_name for r in listing.list_page(session, listing.ListFilters(search="_00")).rows] == []
    html = admin.get("/admin/accounts?q=100%25").get_data(as_text=True)
    assert "100% Real" in html


def test_bad_list_requests_are_explained(admin):
    expected = {
        "sort=nonsense": "Unknown sort order 'nonsense'; choose one from the list.",
        "state=zombie": "Unknown token state 'zombie'; choose one from the list.",
        "after=not-a-cursor": "The page marker in this address is damaged or belongs to another sort order.",
        "size=x": "Page size: expected a whole number written with the digits 0-9, got 'x'.",
        "size=%C2%B2": "Page size: expected a whole number written with the digits 0-9, got '²'.",
        "size=100000": "Page size: expected a number from 1 to 200, got 100000.",
    }
    for query, message in expected.items():
        response = admin.get(f"/admin/accounts?{query}")
        assert response.status_code == 400, query
        assert f"<p>{message}</p>" in html.unescape(response.get_data(as_text=True)), query


def test_cursor_of_another_sort_is_refused(seeded):
    with seeded.db.session() as session:
        cursor = listing.list_page(session, listing.ListFilters(sort="provider"), size=5).next_cursor
        with pytest.raises(cursors.BadListRequest):
            listing.list_page(session, listing.ListFilters(sort="linked_desc"), cursor)


def test_list_shows_token_health_and_not_installed_providers(seeded, admin):
    html = admin.get("/admin/accounts?provider=gone&size=200").get_data(as_text=True)
    assert "not installed" in html
    html = admin.get("/admin/accounts?state=reauth&size=200").get_data(as_text=True)
    assert "Needs sign-in again" in html and "failed refresh" in html
    assert "seed-" not in html  # token values never shown


def test_empty_list_says_what_to_do(admin):
    html = admin.get("/admin/accounts?q=nobody-like-this").get_data(as_text=True)
    assert "No linked accounts match these filters" in html and "clear the filters" in html


def test_csv_export_uses_the_filters_and_escapes_formulas(app, admin, rt):
    with write_transaction(rt.db) as session:
        user = User(display_name="=HYPERLINK(\"http://evil.example\",\"x\")", email="+cmd@evil.example")
        session.add(user)
        session.flush()
        session.add(LinkedAccount(user_id=user.id, provider_id="fake2", subject="-2+3", issuer="i", display_name="@SUM(A1)", email="ok@evil.example"))
    response = admin.get("/admin/accounts.csv?provider=fake2")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    row = rows[0]
    assert row["user_name"].startswith("'=") and row["user_email"] == "'+cmd@evil.example"
    assert row["subject"] == "'-2+3" and row["display_name"] == "'@SUM(A1)" and row["email"] == "ok@evil.example"
    assert row["token_state"] == "none"
    everything = list(csv.DictReader(io.StringIO(admin.get("/admin/accounts.csv").get_data(as_text=True))))
    assert {r["provider_id"] for r in everything} == {"fake", "fake2"}


def test_csv_streams_every_row_of_a_large_list(seeded, admin):
    rows = list(csv.reader(io.StringIO(admin.get("/admin/accounts.csv?sort=provider").get_data(as_text=True))))
    assert len(rows) == 1 + 130 + 1  # header, seeded, alice
    assert "ciphertext" not in rows[0]


def test_user_detail_lists_accounts_in_one_query(seeded, admin, app):
    from sqlalchemy import event

    statements = []
    engine = app.extensions["hub"].db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with seeded.db.session() as session:
            user_id = session.scalar(select(LinkedAccount.user_id).group_by(LinkedAccount.user_id).having(func.count() > 1).limit(1))
            rows = listing.accounts_of_user(session, user_id)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(rows) > 1
    assert len([s for s in statements if "linked_accounts" in s]) == 2  # the lookup above, then ONE page query
    assert admin.get(f"/admin/users/{user_id}").status_code == 200


def test_overview_counts_and_chart(app, admin, rt, idp):
    with write_transaction(rt.db) as session:
        for outcome in ("failure", "failure", "success"):
            rt.audit.record(session, "signin", outcome, provider_id="fake2")
        rt.audit.record(session, "link", "success", provider_id="fake2")
        user = session.scalar(select(User))
        session.add(LinkedAccount(user_id=user.id, provider_id="fake2", subject="x", issuer="i", needs_reauth=True))
    html = admin.get("/admin").get_data(as_text=True)
    today = utcnow().date().isoformat()
    assert '<svg class="chart"' in html and "<title id=" in html and "<desc id=" in html
    assert f'data-day="{today}" data-value="1"><title>' in html  # alice's sign-in at fake today
    assert f'data-day="{today}" data-value="2"><title>' in html  # fake2's two failures today
    assert "2 failures" in html and "Show the numbers" in html
    assert "<dt>Need sign-in again</dt><dd><a href=\"/admin/accounts?state=reauth\">1</a>" in html
    assert "<dt>Users</dt><dd>1</dd>" in html


def test_overview_chart_buckets_by_day(rt):
    from hub.console.overview import signin_series

    now = utcnow()
    with write_transaction(rt.db) as session:
        session.add_all([
            AuditEvent(seq=100 + i, occurred_at=now - timedelta(days=d), type="signin", outcome=o, provider_id="fake", details={}, mac="0" * 64)
            for i, (d, o) in enumerate([(0, "success"), (3, "success"), (3, "failure"), (3, "success"), (40, "success")])
        ])
    with rt.db.session() as session:
        (series,) = signin_series(session, (now - timedelta(days=29)).date(), now)
    by_day = {d.day: (d.success, d.failure) for d in series.days if d.success or d.failure}
    assert by_day == {now.date(): (1, 0), (now - timedelta(days=3)).date(): (2, 1)}


def test_empty_overview_says_what_to_do(admin, rt):
    html = admin.get("/admin").get_data(as_text=True)
    assert "Sign-ins in the last 30 days" in html


def audit_rows(page: str) -> list[tuple[int, str]]:
    """(seq, type) of each event row on an audit page, in page order."""
    return [(int(seq), kind) for seq, kind in re.findall(r"<td>(\d+)</td><td>.*?</td><td>([a-z_.]+)</td>", page)]


def test_audit_page_filters_pages_and_shows_the_chain(seeded, admin):
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "Chain verified" in html and "Checked <time" in html
    html = admin.get("/admin/audit?type=admin.seed&outcome=success").get_data(as_text=True)
    assert "<td>signin</td>" not in html and "<td>admin.seed</td>" in html
    failures = admin.get("/admin/audit?type=signin&outcome=failure").get_data(as_text=True)
    assert '<span class="badge bad">failure</span>' in failures and '<span class="badge ok">success</span>' not in failures
    first = admin.get("/admin/audit?type=signin").get_data(as_text=True)
    assert 'rel="next"' in first
    before = int(first.split("before=")[1].split('"')[0])
    second = admin.get(f"/admin/audit?type=signin&before={before}").get_data(as_text=True)
    first_rows, second_rows = audit_rows(first), audit_rows(second)
    assert len(first_rows) == 50 and second_rows, "the seeded log has more than one page of sign-ins"
    assert {kind for _, kind in first_rows + second_rows} == {"signin"}
    first_seqs, second_seqs = [seq for seq, _ in first_rows], [seq for seq, _ in second_rows]
    assert first_seqs == sorted(first_seqs, reverse=True) and second_seqs == sorted(second_seqs, reverse=True)
    assert before == min(first_seqs) and max(second_seqs) < before  # the next page starts after the first ends
    assert admin.get("/admin/audit?since=yesterday").status_code == 400
    assert admin.get("/admin/audit?user=abc").status_code == 400


def test_audit_page_reports_a_broken_chain(app, admin, rt):
    with write_transaction(rt.db) as session:
        last = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        session.add(AuditEvent(seq=last + 1, type="forged", outcome="success", details={}, mac="f" * 64))
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert f"Chain broken at event #{last + 1}" in html


def test_audit_export_jsonl_and_csv(seeded, admin):
    jsonl = admin.get("/admin/audit.jsonl?type=signin")
    assert jsonl.status_code == 200 and jsonl.mimetype == "application/x-ndjson"
    lines = jsonl.get_data(as_text=True).splitlines()
    assert lines and all('"type":"signin"' in line for line in lines)
    assert admin.get("/admin/audit.csv").get_data(as_text=True).startswith("seq,occurred_at")
    assert admin.get("/admin/audit.xml").status_code == 404


def test_providers_page_survives_failing_health_checks(app, admin, monkeypatch):
    def health(self):
        if self.id == "fake":
            return [HealthCheck("discovery", True, "200 in 12 ms"), HealthCheck("keys", False, "JWKS answered 503")]
        raise ConnectionError("connection refused by idp.test")

    monkeypatch.setattr(fakeidp.FakeProvider, "health", health)
    response = admin.get("/admin/providers")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "JWKS answered 503" in html and "failing" in html
    assert "the check raised ConnectionError: connection refused by idp.test" in html
    assert "tests-fake-provider" in html and "Fake IdP" in html and "Second IdP" in html


def test_providers_page_times_out_a_hanging_check(rt, monkeypatch):
    import threading

    from hub.console.providers import check_all

    release = threading.Event()
    monkeypatch.setattr(fakeidp.FakeProvider, "health", lambda self: release.wait(5) and [])
    try:
        results = check_all(rt.providers, timeout=0.2)
    finally:
        release.set()
    assert not results["fake"].ok and "no answer within 0.2 s" in results["fake"].checks[0].detail


def test_providers_page_lists_failed_plugins_and_orphans(app, admin, rt):
    from hub.plugin.manager import PluginFailure

    rt.plugins.failed.append(PluginFailure("broken", "hub-provider-broken", "0.1", "ImportError: no module named nope"))
    rt.registry.unavailable["legacy"] = "providers.legacy.type: no installed plugin provides type 'saml'"
    with write_transaction(rt.db) as session:
        user = User(display_name="Old")
        session.add(user)
        session.flush()
        session.add(LinkedAccount(user_id=user.id, provider_id="retired", subject="r1", issuer="i"))
    html = admin.get("/admin/providers").get_data(as_text=True)
    assert "hub-provider-broken" in html and "ImportError" in html
    assert "legacy" in html and "saml" in html
    assert "retired" in html and "not installed" in html


def test_seed_makes_a_verifiable_chain_and_readable_tokens(rt):
    from hub.core.audit import verify

    report = seed(rt, 40, providers=("fake", "fake2"))
    assert report.linked_accounts == 40 and report.users <= 40 and report.audit_events > 0
    with rt.db.session() as session:
        assert verify(session, rt.keys.audit_key).ok
        token_set = session.scalars(select(TokenSet)).first()
        tokens = rt.vault.read(token_set)
        assert tokens.access_token.startswith("seed-")
        assert session.scalar(select(AuditEvent.type).order_by(AuditEvent.seq.desc()).limit(1)) == "admin.seed"
