"""Authentication: the OAuth2 token endpoint, bearer tokens, legacy tokens and sandbox-time expiry."""

from __future__ import annotations

import pytest
from http_support import ACCOUNT_IDS, ACME, API, LEGACY_TOKENS, NORTHWIND, OPERATIONS, Api

TOKEN_URL = f"{API}/oauth2/token"
VALID_FORM = {
    "grant_type": "client_credentials",
    "client_id": NORTHWIND,
    "client_secret": "retailer-demo-secret",
}


# --- the token endpoint ---------------------------------------------------------------------
def test_client_credentials_give_a_bearer_token_valid_for_an_hour(api: Api) -> None:
    response = api.client.post(TOKEN_URL, data=VALID_FORM)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert isinstance(body["access_token"], str) and body["access_token"]


@pytest.mark.parametrize("who", sorted(ACCOUNT_IDS))
def test_every_account_of_the_default_world_can_get_a_token(api: Api, who: str) -> None:
    response = api.fetch_token(who)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [
        (NORTHWIND, "wrong"),
        ("nobody", "retailer-demo-secret"),
        (NORTHWIND, "supplier-demo-secret"),
        (NORTHWIND, "s\u00e9cret-\u2603"),
    ],
)
def test_wrong_client_credentials_are_401_invalid_client(
    api: Api, client_id: str, client_secret: str
) -> None:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    response = api.client.post(TOKEN_URL, data=form)
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.json is not None
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize("missing", ["client_id", "client_secret"])
def test_a_missing_form_field_is_400_invalid_request_naming_it(api: Api, missing: str) -> None:
    form = {k: v for k, v in VALID_FORM.items() if k != missing}
    response = api.client.post(TOKEN_URL, data=form)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_request"
    assert missing in response.json["error_description"]


def test_a_missing_grant_type_is_client_credentials_with_a_warning_but_strict_mode_refuses_it(
    api: Api,
) -> None:
    form = {k: v for k, v in VALID_FORM.items() if k != "grant_type"}
    lenient = api.client.post(TOKEN_URL, data=form)
    assert lenient.status_code == 200
    assert "grant_type" in lenient.headers["X-Sandbox-Warning"]

    api.sandbox.config.strict = True
    strict = api.client.post(TOKEN_URL, data=form)
    assert strict.status_code == 400
    assert strict.json is not None
    assert strict.json["error"] == "invalid_request"
    assert "grant_type" in strict.json["error_description"]


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "CLIENT_CREDENTIALS", ""])
def test_a_grant_type_other_than_client_credentials_is_400_invalid_request(api: Api, grant_type: str) -> None:
    response = api.client.post(TOKEN_URL, data={**VALID_FORM, "grant_type": grant_type})
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_request"
    assert "grant_type" in response.json["error_description"]


def test_the_token_endpoint_takes_form_encoding_only_not_json(api: Api) -> None:
    response = api.client.post(TOKEN_URL, json=VALID_FORM)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.json is not None
    assert response.json["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in response.json["error_description"]


def test_the_token_endpoint_with_no_body_is_400_invalid_request(api: Api) -> None:
    response = api.client.post(TOKEN_URL)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_request"


def test_the_token_endpoint_needs_no_authorization_header(api: Api) -> None:
    response = api.client.post(TOKEN_URL, data=VALID_FORM, headers={"Authorization": "bearer nonsense"})
    assert response.status_code == 200


# --- bearer tokens on the conversation operations -------------------------------------------
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_call_without_authorization_is_401_with_a_bearer_challenge(api: Api, operation: str) -> None:
    method, path = OPERATIONS[operation]
    response = api.client.open(f"{API}{path}", method=method, json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["bearer no-such-token", "Basic cmV0YWlsZXItZGVtbzpzZWNyZXQ=", "bearer", "retailer-demo-token"]
)
def test_an_unknown_or_malformed_credential_is_401_with_a_bearer_challenge(api: Api, header: str) -> None:
    response = api.client.post(f"{API}/conversation/list", json={}, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_data(as_text=True).startswith("Authorization: ")


@pytest.mark.parametrize("scheme", ["BEARER", "Bearer", "bearer", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(api: Api, scheme: str) -> None:
    headers = {"Authorization": f"{scheme} {api.token(NORTHWIND)}"}
    response = api.client.post(f"{API}/conversation/list", json={}, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize("who", sorted(ACCOUNT_IDS))
def test_each_accounts_legacy_token_acts_as_that_account(api: Api, who: str) -> None:
    headers = {"Authorization": f"bearer {LEGACY_TOKENS[who]}"}
    partner = {
        NORTHWIND: "2000001",
        "retailer2-demo": "2000001",
        ACME: "1000001",
        "supplier2-demo": "1000001",
    }
    response = api.client.post(
        f"{API}/conversation",
        json={"title": "Via the legacy token", "otherPartyDscoAccountId": partner[who]},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.json is not None
    role = "retailer" if ACCOUNT_IDS[who].startswith("1") else "supplier"
    assert response.json["initiatedBy"] == role
    assert response.json[f"dsco{role.title()}Id"] == ACCOUNT_IDS[who]


def test_a_token_acts_as_the_account_it_was_issued_to(api: Api) -> None:
    created = api.conversation(ACME)
    assert created["initiatedBy"] == "supplier"
    assert created["dscoSupplierId"] == "2000001"
    assert created["dscoRetailerId"] == "1000001"


def test_a_token_expires_after_3600_seconds_of_sandbox_time(api: Api) -> None:
    token = api.token(NORTHWIND)
    headers = {"Authorization": f"bearer {token}"}
    api.advance(3599)
    assert api.client.post(f"{API}/conversation/list", json={}, headers=headers).status_code == 200
    api.advance(2)
    response = api.client.post(f"{API}/conversation/list", json={}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "expired" in response.get_data(as_text=True)


def test_legacy_tokens_do_not_expire(api: Api) -> None:
    api.advance(3601)
    headers = {"Authorization": f"bearer {LEGACY_TOKENS[NORTHWIND]}"}
    assert api.client.post(f"{API}/conversation/list", json={}, headers=headers).status_code == 200


def test_several_tokens_of_one_client_are_valid_at_the_same_time(api: Api) -> None:
    tokens = []
    for _ in range(3):
        response = api.fetch_token(NORTHWIND)
        assert response.json is not None
        tokens.append(response.json["access_token"])
        api.advance(10)
    assert len(set(tokens)) == 3
    for token in tokens:
        response = api.client.post(
            f"{API}/conversation/list", json={}, headers={"Authorization": f"bearer {token}"}
        )
        assert response.status_code == 200


def test_a_newer_token_outlives_an_older_one(api: Api) -> None:
    first = api.fetch_token(NORTHWIND).json
    api.advance(1800)
    second = api.fetch_token(NORTHWIND).json
    assert first is not None and second is not None
    api.advance(1801)
    old = {"Authorization": f"bearer {first['access_token']}"}
    new = {"Authorization": f"bearer {second['access_token']}"}
    assert api.client.post(f"{API}/conversation/list", json={}, headers=old).status_code == 401
    assert api.client.post(f"{API}/conversation/list", json={}, headers=new).status_code == 200


def test_an_unauthenticated_create_changes_nothing(api: Api) -> None:
    before = api.snapshot()
    response = api.client.post(
        f"{API}/conversation", json={"title": "x", "otherPartyTradingPartnerId": "aaa-bbb-ccc"}
    )
    assert response.status_code == 401
    assert api.snapshot() == before


def test_a_token_request_over_one_mebibyte_is_413(api: Api) -> None:
    body = "grant_type=client_credentials&client_id=" + "x" * (1024 * 1024)
    response = api.client.post(TOKEN_URL, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.mimetype == "text/plain"
