from tests.conftest import sign_in


def test_sign_in_lands_on_account_page(client, idp):
    response = sign_in(client, idp, "alice")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/account")
    assert page.status_code == 200
    assert "Alice Admin" in page.get_data(as_text=True)
