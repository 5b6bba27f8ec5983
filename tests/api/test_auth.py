"""Sign-in over the API and the web: tokens, expiry, revocation, lockout, CSRF, accounts, audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError

from api.dependencies import get_conn
from api.main import create_app
from api.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from gis.access import Role
from gis.auth import issue_token
from gis.db.access_models import Account, AuditLog
from gis.errors import ConfigurationError
from gis.settings import DEFAULT_SECRET, Settings, demo_settings
from gis.workflows import sign_in
from gis.workflows.sign_in import MAX_FAILED_LOGINS, THROTTLE_FAILURES, THROTTLE_WINDOW
from tests.accounts import TEST_PASSWORD, TEST_SECRET, make_account
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN


def _token(anonymous: TestClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return anonymous.post("/api/v1/auth/token", data={"username": username, "password": password})


def _audit(conn: Connection, action: str, key: object | None = None) -> list[Any]:
    query = select(AuditLog).where(AuditLog.action == action)
    if key is not None:
        query = query.where(AuditLog.row_key == str(key))
    return list(conn.execute(query.order_by(AuditLog.id)).mappings())


def test_data_endpoints_need_credentials(anonymous: TestClient) -> None:
    response = anonymous.get("/api/v1/units")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200


def test_password_flow_token_me_and_logout(anonymous: TestClient, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.GRID_CHIEF, village_code=_a_village(db_conn))
    response = _token(anonymous, account["username"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 8 * 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    me = anonymous.get("/api/v1/auth/me", headers=headers).json()
    assert me["username"] == account["username"]
    assert me["role"] == "grid_chief" and me["role_label"] == "网格长"
    assert me["village_codes"] == [account["village_code"]]
    assert "password_hash" not in me

    assert anonymous.post("/api/v1/auth/logout", headers=headers).status_code == 204
    again = anonymous.get("/api/v1/auth/me", headers=headers)
    assert again.status_code == 401
    assert anonymous.get("/api/v1/villages", headers=headers).status_code == 401
    assert _audit(db_conn, "login", account["id"]) and _audit(db_conn, "logout")


def test_wrong_password_and_unknown_user_look_the_same(
    anonymous: TestClient, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    wrong = _token(anonymous, account["username"], "not the password")
    unknown = _token(anonymous, "nobody-at-all", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert _audit(db_conn, "login_failed", account["id"])
    assert _audit(db_conn, "login_failed", "nobody-at-all")


def test_repeated_failures_lock_the_account(anonymous: TestClient, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    for _ in range(MAX_FAILED_LOGINS):
        assert _token(anonymous, account["username"], "guess-guess").status_code == 401
    # Locked: even the right password is refused until the lock expires, with the same answer
    # as a wrong password (the lock does not tell a guesser which usernames exist).
    locked = _token(anonymous, account["username"])
    assert locked.status_code == 401 and "锁定" not in locked.json()["message"]
    assert _audit(db_conn, "lockout", account["id"])
    db_conn.execute(
        text("UPDATE accounts SET locked_until = now() - interval '1 second' WHERE id = :id"),
        {"id": account["id"]},
    )
    assert _token(anonymous, account["username"]).status_code == 200


def test_expired_forged_and_stale_tokens_are_refused(
    anonymous: TestClient, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=9)
    expired, _ = issue_token(account["id"], 0, TEST_SECRET, now=long_ago)
    forged, _ = issue_token(account["id"], 0, "a-different-secret-of-enough-length")
    stale, _ = issue_token(account["id"], 7, TEST_SECRET)  # an old token version
    for token in (expired, forged, stale, "garbage"):
        response = anonymous.get("/api/v1/villages", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_demo_accounts_sign_in_only_in_demo_mode(
    anonymous: TestClient, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN, is_demo=True)
    response = _token(anonymous, account["username"])
    assert response.status_code == 401 and "演示" in response.json()["message"]


# --- accounts administration --------------------------------------------------------------------


def _a_village(conn: Connection, town: str = DEMO_TOWN) -> str:
    return str(
        conn.execute(
            text("SELECT min(code) FROM villages WHERE town_code = :t"), {"t": town}
        ).scalar_one()
    )


def test_town_admin_creates_lists_and_deactivates(
    client: TestClient, anonymous: TestClient, db_conn: Connection
) -> None:
    village = _a_village(db_conn)
    created = client.post(
        "/api/v1/accounts",
        json={
            "username": "chief-new",
            "password": "a long passphrase",
            "role": "grid_chief",
            "village_code": village,
            "display_name": "张网格长",
        },
    )
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["town_code"] == DEMO_TOWN and new["village_code"] == village
    assert "password" not in created.text

    listed = client.get("/api/v1/accounts").json()["items"]
    assert {a["username"] for a in listed} >= {"chief-new", client.account["username"]}  # type: ignore[attr-defined]
    assert all(a["town_code"] == DEMO_TOWN for a in listed)

    token = _token(anonymous, "chief-new", "a long passphrase").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/api/v1/auth/me", headers=headers).status_code == 200

    off = client.post(f"/api/v1/accounts/{new['id']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    # The token issued before deactivation stops working at once.
    assert anonymous.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert client.post(f"/api/v1/accounts/{new['id']}/deactivate").status_code == 409

    (create_entry,) = _audit(db_conn, "create", new["id"])
    (deactivate_entry,) = _audit(db_conn, "deactivate", new["id"])
    assert create_entry["actor"] == client.account["username"]  # type: ignore[attr-defined]
    assert create_entry["after"]["village_code"] == village
    assert deactivate_entry["before"]["active"] is True
    assert deactivate_entry["after"]["active"] is False
    for entry in (create_entry, deactivate_entry):
        assert "password_hash" not in (entry["after"] or {})


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "grid_chief", "village_code": "419999999999"}, 400),  # not in the town
        ({"role": "grid_chief"}, 422),  # the role needs a village
        ({"role": "town_admin", "village_code": "411003101001"}, 422),  # field not for role
        ({"role": "county_office"}, 403),  # county accounts come from the CLI
        ({"role": "inspector", "staff_id": 999999999}, 400),
        ({"role": "public", "password": "short"}, 422),
    ],
)
def test_account_creation_is_validated(
    client: TestClient, body: dict[str, Any], status: int
) -> None:
    payload = {"username": "someone-new", "password": "a long passphrase", **body}
    response = client.post("/api/v1/accounts", json=payload)
    assert response.status_code == status, response.text


def test_usernames_are_unique(client: TestClient) -> None:
    payload = {"username": "twice", "password": "a long passphrase", "role": "public"}
    assert client.post("/api/v1/accounts", json=payload).status_code == 201
    assert client.post("/api/v1/accounts", json=payload).status_code == 409


def test_admin_cannot_deactivate_self_or_other_towns(
    client: TestClient, db_conn: Connection, client_as: ClientAs
) -> None:
    me = client.account  # type: ignore[attr-defined]
    assert client.post(f"/api/v1/accounts/{me['id']}/deactivate").status_code == 403
    county = make_account(db_conn, Role.COUNTY_OFFICE)  # no town: not the admin's to manage
    assert client.post(f"/api/v1/accounts/{county['id']}/deactivate").status_code == 404
    assert client.get(f"/api/v1/accounts/{county['id']}").status_code == 404


# --- web sign-in: session cookie and CSRF --------------------------------------------------------


def _login_page(web: TestClient) -> str:
    page = web.get("/login")
    assert page.status_code == 200 and "登录" in page.text
    token = web.cookies.get(CSRF_COOKIE)
    assert token and f'value="{token}"' in page.text
    return str(token)


def test_web_login_sets_a_safe_session_cookie(api_app: FastAPI, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    with TestClient(api_app, follow_redirects=False) as web:
        csrf = _login_page(web)
        response = web.post(
            "/login",
            data={
                "username": account["username"],
                "password": TEST_PASSWORD,
                "csrf_token": csrf,
                "next": "https://evil.example/phish",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/home"  # no open redirect
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
        assert web.cookies.get(CSRF_COOKIE) != csrf  # rotated at login

        page = web.get("/account")
        assert page.status_code == 200 and account["username"] in page.text
        # The cookie authenticates API reads too (maps fetch layers this way).
        assert web.get("/api/v1/villages", params={"limit": 1}).status_code == 200


def test_login_form_without_csrf_token_is_refused(api_app: FastAPI, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    with TestClient(api_app, follow_redirects=False) as web:
        _login_page(web)
        form = {"username": account["username"], "password": TEST_PASSWORD}
        assert web.post("/login", data=form).status_code == 403
        assert web.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
        assert SESSION_COOKIE not in web.cookies


def test_cookie_writes_need_the_csrf_header(api_app: FastAPI, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    body = {"username": "via-cookie", "password": "a long passphrase", "role": "public"}
    with TestClient(api_app, follow_redirects=False) as web:
        csrf = _login_page(web)
        web.post(
            "/login",
            data={"username": account["username"], "password": TEST_PASSWORD, "csrf_token": csrf},
        )
        refused = web.post("/api/v1/accounts", json=body)
        assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
        csrf = str(web.cookies.get(CSRF_COOKIE))
        accepted = web.post("/api/v1/accounts", json=body, headers={CSRF_HEADER: csrf})
        assert accepted.status_code == 201, accepted.text


def test_web_logout_needs_csrf_and_revokes_the_session(
    api_app: FastAPI, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.GRID_CHIEF, village_code=_a_village(db_conn))
    with TestClient(api_app, follow_redirects=False) as web:
        csrf = _login_page(web)
        web.post(
            "/login",
            data={"username": account["username"], "password": TEST_PASSWORD, "csrf_token": csrf},
        )
        session = web.cookies.get(SESSION_COOKIE)
        assert web.post("/logout").status_code == 403  # no CSRF token: a cross-site logout
        csrf = str(web.cookies.get(CSRF_COOKIE))
        out = web.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert web.get("/account").status_code == 303
    # The old cookie value is revoked server-side, not merely deleted from the browser.
    with TestClient(api_app, cookies={SESSION_COOKIE: str(session)}) as replay:
        assert replay.get("/api/v1/villages").status_code == 401


def test_account_rows_never_expose_hashes(client: TestClient, db_conn: Connection) -> None:
    stored = db_conn.execute(select(Account.password_hash).limit(1)).scalar_one()
    for path in ("/api/v1/accounts", "/api/v1/auth/me", "/api/v1/audit"):
        assert stored not in client.get(path).text


# --- under attack: one answer, throttle, unlock, forged tokens, weak passwords, CSRF ----------


def _from(api_app: FastAPI, address: str) -> TestClient:
    """A client calling from its own address (the throttle counts per address)."""
    return TestClient(api_app, client=(address, 50000))


def test_unknown_locked_and_wrong_password_answers_are_byte_identical(
    api_app: FastAPI, db_conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = sign_in.verify_password
    monkeypatch.setattr(
        sign_in, "verify_password", lambda h, p: verified.append(h) or real_verify(h, p)
    )
    locked = make_account(db_conn, Role.TOWN_ADMIN)
    other = make_account(db_conn, Role.TOWN_ADMIN)
    with _from(api_app, "10.8.0.1") as attacker:
        for _ in range(MAX_FAILED_LOGINS):
            assert _token(attacker, locked["username"], "guess-guess").status_code == 401
    verified.clear()
    answers = []
    with _from(api_app, "10.8.0.2") as probe:
        answers.append(_token(probe, "nobody-at-all", "guess-guess"))  # unknown
        answers.append(_token(probe, locked["username"], TEST_PASSWORD))  # locked (right pw)
        answers.append(_token(probe, other["username"], "guess-guess"))  # wrong password
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1, [a.text for a in answers]
    assert len({tuple(sorted(a.headers.items())) for a in answers}) == 1
    assert len(verified) == 3  # one argon2 verification each: the same work
    assert _audit(db_conn, "login_refused", locked["id"])[-1]["after"] == {"reason": "locked"}


def test_failed_sign_ins_are_throttled_per_client_address(
    api_app: FastAPI, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    with _from(api_app, "10.9.0.1") as sprayer:
        for i in range(THROTTLE_FAILURES):
            assert _token(sprayer, f"sprayed-{i}", "guess-guess").status_code == 401
        throttled = _token(sprayer, account["username"])  # even the right password waits
        assert throttled.status_code == 429
        assert throttled.json()["code"] == "too_many_attempts"
        assert 0 < int(throttled.headers["retry-after"]) <= THROTTLE_WINDOW.total_seconds()
        page = sprayer.get("/login")
        form = {"username": account["username"], "password": TEST_PASSWORD}
        web = sprayer.post("/login", data={**form, "csrf_token": _csrf_of(page.text)})
        assert web.status_code == 429 and "retry-after" in web.headers
    assert _audit(db_conn, "login_throttled", "10.9.0.1")
    with _from(api_app, "10.9.0.2") as colleague:  # another address is not affected
        assert _token(colleague, account["username"]).status_code == 200


def _csrf_of(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_town_admin_unlocks_a_locked_account(
    client: TestClient, api_app: FastAPI, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.GRID_CHIEF, village_code=_a_village(db_conn))
    with _from(api_app, "10.10.0.1") as attacker:
        for _ in range(MAX_FAILED_LOGINS):
            _token(attacker, account["username"], "guess-guess")
    with _from(api_app, "10.10.0.2") as owner:
        assert _token(owner, account["username"]).status_code == 401
        unlocked = client.post(f"/api/v1/accounts/{account['id']}/unlock")
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json()["locked_until"] is None
        assert _token(owner, account["username"]).status_code == 200
    assert client.post(f"/api/v1/accounts/{account['id']}/unlock").status_code == 409
    (entry,) = _audit(db_conn, "unlock", account["id"])
    assert entry["actor"] == client.account["username"]  # type: ignore[attr-defined]
    assert entry["before"]["failed_logins"] == MAX_FAILED_LOGINS
    assert entry["after"] == {"failed_logins": 0, "locked_until": None}
    county = make_account(db_conn, Role.COUNTY_OFFICE)  # outside the admin's town
    assert client.post(f"/api/v1/accounts/{county['id']}/unlock").status_code == 404


@pytest.mark.parametrize("mode", ["demo", "development", "production"])
def test_a_token_signed_with_the_default_secret_is_refused_in_every_mode(
    mode: str, db_engine: Engine, db_conn: Connection, tmp_path: Path
) -> None:
    """Forge a token with the published default key for a real admin, as an attacker would."""
    account = make_account(db_conn, Role.TOWN_ADMIN)
    now = dt.datetime.now(dt.UTC)
    forged = jwt.encode(
        {
            "iss": "gridsafe",
            "sub": str(account["id"]),
            "ver": 0,
            "jti": "f" * 32,
            "iat": now,
            "exp": now + dt.timedelta(hours=1),
        },
        DEFAULT_SECRET,
        algorithm="HS256",
    )
    # The configuration each mode gets without a secret given: the demo's own key; the others
    # refuse to start at all.
    settings = Settings(mode=mode, database_url="postgresql+psycopg://u@h/x", data_dir=tmp_path)
    if mode == "demo":
        settings = demo_settings(settings)
    else:
        with pytest.raises(ConfigurationError):
            create_app(settings, db_engine)
        settings = settings.model_copy(update={"secret_key": SecretStr(TEST_SECRET)})
    app = create_app(settings, db_engine)
    app.dependency_overrides[get_conn] = lambda: db_conn
    with TestClient(app) as attacker:
        headers = {"Authorization": f"Bearer {forged}"}
        assert attacker.get("/api/v1/auth/me", headers=headers).status_code == 401
        assert attacker.get("/api/v1/accounts", headers=headers).status_code == 401
        attacker.cookies.set(SESSION_COOKIE, forged)
        assert attacker.get("/api/v1/villages", params={"limit": 1}).status_code == 401


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "常见"),
        ("12345678", "常见"),
        ("qwertyuiop", "常见"),
        ("zxcvbnmlkj", "只由"),
        ("someone-new", "用户名"),
        ("abcd1234efgh", "连续"),
    ],
)
def test_weak_passwords_are_refused_with_a_chinese_reason(
    client: TestClient, password: str, why: str
) -> None:
    payload = {"username": "someone-new", "password": password, "role": "public"}
    response = client.post("/api/v1/accounts", json=payload)
    assert response.status_code == 400, response.text
    assert why in response.json()["message"]


def test_usernames_are_unique_regardless_of_case(
    client: TestClient, anonymous: TestClient, db_conn: Connection
) -> None:
    payload = {"username": "Case-Twice", "password": "a long passphrase", "role": "public"}
    assert client.post("/api/v1/accounts", json=payload).status_code == 201
    clash = client.post("/api/v1/accounts", json={**payload, "username": "case-twice"})
    assert clash.status_code == 409 and "用户名已存在" in clash.json()["message"]
    with pytest.raises(IntegrityError), db_conn.begin_nested():
        make_account(db_conn, Role.PUBLIC, username="CASE-TWICE")
    # Sign-in matches the name in any case.
    assert _token(anonymous, "CASE-twice", "a long passphrase").status_code == 200


def _web_login(web: TestClient, username: str) -> str:
    """Sign a browser in through the form; returns the CSRF token of its session."""
    page = web.get("/login")
    signed = web.post(
        "/login",
        data={"username": username, "password": TEST_PASSWORD, "csrf_token": _csrf_of(page.text)},
    )
    assert signed.status_code == 303, signed.text
    return str(web.cookies.get(CSRF_COOKIE))


def test_a_csrf_token_from_another_session_is_refused(
    api_app: FastAPI, db_conn: Connection
) -> None:
    """Even when planted as the victim's CSRF cookie too (a sibling subdomain can set cookies,
    which defeats a plain double-submit check)."""
    attacker = make_account(db_conn, Role.TOWN_ADMIN)
    victim = make_account(db_conn, Role.TOWN_ADMIN)
    body = {"username": "planted-by-csrf", "password": "a long passphrase", "role": "public"}
    with (
        TestClient(api_app, follow_redirects=False) as mine,
        TestClient(api_app, follow_redirects=False) as theirs,
    ):
        stolen = _web_login(mine, attacker["username"])
        own = _web_login(theirs, victim["username"])
        assert stolen != own
        theirs.cookies.set(CSRF_COOKIE, stolen)
        refused = theirs.post("/api/v1/accounts", json=body, headers={CSRF_HEADER: stolen})
        assert refused.status_code == 403 and "CSRF" in refused.json()["message"]
        assert theirs.post("/logout", data={"csrf_token": stolen}).status_code == 403
        theirs.cookies.set(CSRF_COOKIE, own)
        accepted = theirs.post("/api/v1/accounts", json=body, headers={CSRF_HEADER: own})
        assert accepted.status_code == 201, accepted.text


def test_a_sign_in_form_token_works_in_its_own_browser_only(
    api_app: FastAPI, db_conn: Connection
) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN)
    with (
        TestClient(api_app, follow_redirects=False) as mine,
        TestClient(api_app, follow_redirects=False) as theirs,
    ):
        planted = _csrf_of(mine.get("/login").text)
        theirs.get("/login")
        theirs.cookies.set(CSRF_COOKIE, planted)
        form = {"username": account["username"], "password": TEST_PASSWORD}
        assert theirs.post("/login", data={**form, "csrf_token": planted}).status_code == 403
        assert SESSION_COOKIE not in theirs.cookies
