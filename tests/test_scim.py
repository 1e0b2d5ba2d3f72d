"""SCIM provisioning: tokens, /Users, offboarding through it, firm isolation,
rate limits and the audit trail (README, "Provisioning (SCIM)")."""

from __future__ import annotations

import pytest
import redis
from sqlmodel import Session, select

from tests.conftest import sign_in
from tests.mfa_support import enable_mfa, password_step, signed_in
from tests.scim_support import Scim, make_token
from tests.servers import PrivateRedis, free_port
from tests.step_up_support import confirm_its_you
from webapp import accounts, create_app
from webapp.crypto import token_hash
from webapp.extensions import db
from webapp.limits.models import FailureCount
from webapp.models import AuditEvent, PendingSignIn, ScimToken, User, utcnow
from webapp.passwords import tokens as password_links
from webapp.passwords.tokens import RESET_LINK_TTL, Purpose


@pytest.fixture
def firm(app, factory):
    """Kauri Law: an admin, a user, and a SCIM token."""
    system = factory.system("Kauri Law")
    admin = factory.user(system, email="ana@kauri.example", name="Ana Admin", admin=True)
    user = factory.user(system, email="ben@kauri.example", name="Ben User")
    return {"system": system, "admin": admin, "user": user, "secret": make_token(app, system)}


@pytest.fixture
def scim(app, firm) -> Scim:
    return Scim(app.test_client(), firm["secret"])


def test_a_created_user_is_read_back_as_written(scim, session):
    created = scim.create("New.Person@Kauri.Example", "New Person", externalId="entra-42")
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.json
    assert created.headers["Location"] == body["meta"]["location"]
    assert body["userName"] == "new.person@kauri.example"  # userName is the email
    assert body["externalId"] == "entra-42"
    assert body["emails"] == [{"value": "new.person@kauri.example", "type": "work", "primary": True}]
    assert body["groups"][0]["value"] == "user"
    assert scim.call("GET", f"/Users/{body['id']}").json == body
    user = session.get(User, int(body["id"]))
    assert user.active and not user.is_admin
    # No password yet (the invitation will set one): not even the stored marker works.
    assert sign_in(scim.client, "new.person@kauri.example", password="!").status_code == 422


def test_what_firmguard_cannot_keep_is_refused_with_scim_errors(scim, firm):
    not_email = scim.create("bjensen")
    assert not_email.status_code == 400 and not_email.json["scimType"] == "invalidValue"
    taken = scim.create(firm["user"].email.upper())
    assert taken.status_code == 409 and taken.json["scimType"] == "uniqueness"
    missing = scim.call("GET", "/Users/999999")
    assert missing.status_code == 404
    assert missing.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim.call("GET", "/Users/not-a-number").status_code == 404
    bad_json = scim.client.post(
        "/scim/v2/Users",
        data="{",
        headers={"Authorization": f"Bearer {scim.secret}", "Content-Type": "application/scim+json"},
    )
    assert bad_json.status_code == 400 and bad_json.mimetype == "application/scim+json"


def test_attributes_it_does_not_keep_are_ignored_not_refused(scim):
    """Entra and Okta send name, title, emails and extensions: dropped, not a 400."""
    created = scim.create(
        "kiri@kauri.example",
        "Kiri Tane",
        name={"givenName": "Kiri", "familyName": "Tane"},
        title="Associate",
        emails=[{"value": "other@kauri.example", "type": "work", "primary": True}],
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.json["emails"][0]["value"] == "kiri@kauri.example"
    patched = scim.patch(
        created.json["id"],
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x@kauri.example"},
        {"op": "replace", "path": "name.givenName", "value": "Kiri"},
        {"op": "Replace", "path": "displayName", "value": "Kiri T."},
    )
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.json["displayName"] == "Kiri T."
    assert patched.json["userName"] == "kiri@kauri.example"


def test_filters_and_paging(scim, firm, session):
    for number in range(5):
        scim.create(f"p{number}@kauri.example", f"Person {number}", externalId=f"ext-{number}")
    ids = scim.ids()
    assert len(ids) == 7  # the two seeded users and five new ones
    assert scim.ids('?filter=userName eq "P3@KAURI.example"') == [ids[5]]
    assert scim.ids('?filter=emails.value eq "p1@kauri.example"') == [ids[3]]
    assert scim.ids('?filter=emails[value eq "p1@kauri.example"]') == [ids[3]]
    assert scim.ids('?filter=externalId eq "ext-4"') == [ids[6]]
    assert scim.ids('?filter=externalId eq "EXT-4"') == []  # externalId is case-exact
    assert scim.ids('?filter=emails.type eq "home"') == []  # every email is the work one
    scim.patch(ids[4], {"op": "replace", "path": "active", "value": False})
    assert scim.ids("?filter=active eq false") == [ids[4]]
    assert len(scim.ids("?filter=active eq true")) == 6
    assert scim.ids('?filter=userName sw "p" and not (active eq false)') == [ids[2], ids[3], ids[5], ids[6]]

    page = scim.call("GET", "/Users?startIndex=3&count=2").json
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (7, 3, 2)
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert scim.call("GET", "/Users?count=0").json["Resources"] == []
    searched = scim.call("POST", "/Users/.search", {"filter": 'externalId eq "ext-0"', "count": 5})
    assert [r["id"] for r in searched.json["Resources"]] == [ids[2]]

    broken = scim.call("GET", "/Users?filter=userName eq")
    assert broken.status_code == 400 and broken.json["scimType"] == "invalidFilter"
    for unusable in ('active eq "yes"', 'title eq "Partner"'):  # not a boolean; not served
        refused = scim.call("GET", f"/Users?filter={unusable}")
        assert refused.status_code == 400 and refused.json["scimType"] == "invalidFilter"


def test_a_token_sees_and_changes_only_its_own_firm(app, factory, scim, firm):
    other = factory.system("Rimu Legal")
    stranger = factory.user(other, email="sam@rimu.example", name="Sam Rimu", admin=True)
    rimu = Scim(app.test_client(), make_token(app, other))
    theirs = f"/Users/{stranger.id}"
    for method, body in (("GET", None), ("PUT", {"userName": "x@y.example", "displayName": "X", "active": True}), ("DELETE", None)):
        response = scim.call(method, theirs, body)
        assert response.status_code == 404, (method, response.get_data(as_text=True))
    assert scim.patch(stranger.id, {"op": "replace", "path": "active", "value": False}).status_code == 404
    assert scim.ids(f'?filter=userName eq "{stranger.email}"') == []
    assert str(stranger.id) not in scim.ids()
    assert rimu.ids() == [str(stranger.id)]
    # Their email cannot be taken, and the answer does not say where it is used.
    taken = scim.create(stranger.email)
    assert taken.status_code == 409 and "Rimu" not in taken.get_data(as_text=True)
    assert rimu.call("GET", theirs).json["active"] is True


def test_patch_active_false_ends_every_session(app, scim, firm):
    """Offboarding: the leaver's browsers are signed out at their next request,
    and no way in is left (password here; recovery code, single sign-on below
    and in test_sso_sign_in)."""
    user = firm["user"]
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        sign_in(browser, user.email)
        assert signed_in(browser)
    # Entra's form: a path-less replace with the boolean as a string.
    response = scim.patch(user.id, {"op": "Replace", "value": {"active": "False"}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["active"] is False
    assert not any(signed_in(browser) for browser in browsers)
    assert sign_in(app.test_client(), user.email).status_code == 422


def test_deactivation_drops_pending_sign_ins(app, factory, scim, firm, session):
    leaver = factory.user(firm["system"], email="leo@kauri.example", name="Leo")
    enable_mfa(app, session, leaver)
    halfway = app.test_client()
    password_step(halfway, leaver.email)
    assert session.exec(select(PendingSignIn).where(PendingSignIn.user_id == leaver.id)).all()
    with app.app_context():  # a password reset link emailed before, unused
        link = password_links.issue(db.session, leaver, Purpose.RESET, RESET_LINK_TTL, utcnow())
        db.session.commit()
    assert scim.patch(leaver.id, {"op": "replace", "path": "active", "value": False}).status_code == 200
    # Dropped, not just refused while inactive: back on, the old link stays dead.
    assert scim.patch(leaver.id, {"op": "replace", "path": "active", "value": True}).status_code == 200
    spent = app.test_client().get(f"/password/reset/{link}")
    assert spent.status_code == 302 and spent.headers["Location"] == "/password/forgot"
    assert session.exec(select(PendingSignIn).where(PendingSignIn.user_id == leaver.id)).all() == []
    # The code step of that browser is over, by recovery code or passkey alike.
    response = halfway.post_form("/sign-in/recovery", {"code": "aaaa-bbbb"}, token_from="/sign-in")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    passkey = halfway.post("/sign-in/passkey/options", headers={"X-CSRFToken": halfway.csrf_token()})
    assert passkey.status_code == 409
    assert not signed_in(halfway)


def test_delete_deactivates_keeps_the_row_and_the_email(app, scim, firm, session):
    user = firm["user"]
    browser = app.test_client()
    sign_in(browser, user.email)
    assert scim.call("DELETE", f"/Users/{user.id}").status_code == 204
    assert not signed_in(browser)
    assert scim.call("GET", f"/Users/{user.id}").status_code == 404
    assert str(user.id) not in scim.ids()
    row = session.get(User, user.id)
    session.refresh(row)
    assert row.active is False and row.deprovisioned_at is not None
    again = scim.create(user.email)
    assert again.status_code == 409  # the email is not freed
    assert scim.call("DELETE", f"/Users/{user.id}").status_code == 404


def test_the_last_active_admin_is_kept(scim, firm):
    admin = firm["admin"]
    refused = scim.patch(admin.id, {"op": "replace", "path": "active", "value": False})
    assert refused.status_code == 409 and "last active admin" in refused.json["detail"]
    assert scim.call("DELETE", f"/Users/{admin.id}").status_code == 409
    assert scim.call("GET", f"/Users/{admin.id}").json["active"] is True


def test_every_change_is_audited_with_the_tokens_name(app, scim, firm, session):
    created = scim.create("tui@kauri.example", "Tui").json
    scim.patch(created["id"], {"op": "replace", "path": "displayName", "value": "Tui Kereru"})
    scim.call("DELETE", f"/Users/{created['id']}")
    events = session.exec(
        select(AuditEvent).where(AuditEvent.subject_id == int(created["id"])).order_by(AuditEvent.id)
    ).all()
    assert [event.action for event in events] == [
        "scim.user_created",
        "scim.user_updated",
        "scim.user_deleted",
    ]
    assert {event.details["scim_token"] for event in events} == {"Entra ID"}
    assert events[1].details["changes"] == {"display_name": ["Tui", "Tui Kereru"]}
    admin = app.test_client()
    sign_in(admin, firm["admin"].email)
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "SCIM token “Entra ID”" in page and "User provisioned (SCIM)" in page


def test_tokens_are_made_shown_once_stored_hashed_and_revoked(app, firm, session):
    admin = app.test_client()
    sign_in(admin, firm["admin"].email)
    page = admin.get("/admin/security").get_data(as_text=True)
    assert "Provisioning (SCIM)" in page and "http://127.0.0.1:5000/scim/v2" in page
    asked = admin.post_form("/admin/security/scim/tokens", {"name": "Okta prod"}, token_from="/admin/security")
    assert "Confirm it" in asked.get_data(as_text=True)  # the step-up first
    assert session.exec(select(ScimToken).where(ScimToken.name == "Okta prod")).all() == []
    confirm_its_you(admin)
    made = admin.post_form("/admin/security/scim/tokens", {"name": "Okta prod"}, token_from="/admin/security")
    assert made.status_code == 200
    body = made.get_data(as_text=True)
    assert "it is not shown again" in body
    secret = body.split('<code class="secret">')[1].split("</code>")[0]
    token = session.exec(select(ScimToken).where(ScimToken.name == "Okta prod")).one()
    assert token.token_hash == token_hash(secret) and secret not in str(token.model_dump())
    assert secret not in admin.get("/admin/security").get_data(as_text=True)

    okta = Scim(app.test_client(), secret)
    assert okta.call("GET", "/Users").status_code == 200
    session.refresh(token)
    assert token.last_used_at is not None
    assert "Never" in admin.get("/admin/security").get_data(as_text=True)  # the other token

    revoked = admin.post_form(f"/admin/security/scim/tokens/{token.id}/revoke", token_from="/admin/security")
    assert revoked.status_code == 302
    assert okta.call("GET", "/Users").status_code == 401
    assert Scim(app.test_client(), firm["secret"]).call("GET", "/Users").status_code == 200
    assert "Okta prod" not in admin.get("/admin/security").get_data(as_text=True).split("Provisioning (SCIM)")[1]
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.action.like("scim.token%"))).all()
    assert sorted(actions) == ["scim.token_created", "scim.token_created", "scim.token_revoked"]


def test_a_cookie_never_authenticates_and_a_bad_token_gets_401(app, firm):
    admin = app.test_client()
    sign_in(admin, firm["admin"].email)
    assert admin.get("/scim/v2/Users").status_code == 401
    response = Scim(app.test_client(), firm["secret"] + "x").call("GET", "/Users")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("app_overrides", [{"SCIM_REQUESTS_PER_MINUTE": 3}])
def test_each_token_is_rate_limited_on_its_own(app, factory, scim, firm):
    other = Scim(app.test_client(), make_token(app, firm["system"], name="Okta"))
    assert [scim.call("GET", "/Users").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert scim.call("GET", "/Users").headers["Retry-After"] == "60"
    assert other.call("GET", "/Users").status_code == 200


def test_cli_creates_a_token_and_prints_it_once(app, firm, session):
    result = app.test_cli_runner().invoke(
        args=["scim", "token", "create", "--system", "Kauri Law", "--name", "Entra prod"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert Scim(app.test_client(), secret).call("GET", "/Users").status_code == 200
    missing = app.test_cli_runner().invoke(args=["scim", "token", "create", "--system", "Nope", "--name", "x"])
    assert missing.exit_code == 1


def test_edit_user_deactivation_also_drops_pending_sign_ins(app, factory, firm, session):
    """Offboarding is the same whoever does it: Edit user's "Active" off."""
    leaver = factory.user(firm["system"], email="lee@kauri.example", name="Lee")
    enable_mfa(app, session, leaver)
    halfway = app.test_client()
    password_step(halfway, leaver.email)
    admin = app.test_client()
    sign_in(admin, firm["admin"].email)
    confirm_its_you(admin)  # deactivating someone needs the step-up
    path = f"/admin/users/{leaver.id}"
    saved = admin.post_form(path, {"display_name": "Lee", "role": "user", "mfa_enabled": "y"})
    assert saved.status_code == 302
    assert session.exec(select(PendingSignIn).where(PendingSignIn.user_id == leaver.id)).all() == []
    response = halfway.post_form("/sign-in/verify", {"code": "123456"}, token_from="/sign-in")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


@pytest.fixture
def redis_url():
    server = PrivateRedis(free_port())
    server.start()
    yield server.url
    server.stop()


def test_with_redis_the_count_is_redis_s(redis_url, database_url, tmp_path):
    app = create_app(
        "testing",
        {
            "DATABASE_URL": database_url,
            "MAIL_FILE_DIR": str(tmp_path / "mail"),
            "REDIS_URL": redis_url,
            "SCIM_REQUESTS_PER_MINUTE": 2,
        },
    )
    with app.app_context():
        system = accounts.create_system(db.session, "Redis Law", country="NZ", timezone="Pacific/Auckland")
        db.session.commit()
    scim = Scim(app.test_client(), make_token(app, system))
    assert [scim.call("GET", "/Users").status_code for _ in range(3)] == [200, 200, 429]
    keys = redis.Redis.from_url(redis_url).keys("firmguard:failures:uses:scim:*")
    assert len(keys) == 1
    with Session(app.extensions["firmguard_db"]) as own:
        assert own.exec(select(FailureCount)).all() == []  # not in the database
    app.extensions["firmguard_db"].dispose()
