"""Bad input is BAD_USER_INPUT naming the field: never a 500, never an "Unexpected error."

Issue 13 item 13 and the low items on input: NaN and Infinity, impossible dates, integers
beyond 32 bits, a lone UTF-16 surrogate, NUL characters (refused by PostgreSQL), tampered
cursors and tokens with absurd ``sub``/``exp`` claims; then windows and caps: check-ins from
year 1, visits of a month, plans for 9999-12-31, 50,000-character names and 30,000 ids in one
list. Each runs through the real GraphQL endpoint on SQLite and PostgreSQL; the production
test sends the published documents (the only ones production runs) and checks that the code
survives error masking.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import true

from backend.app import create_app
from backend.runtime import Runtime
from backend.services import visits as visit_service
from backend.settings import Settings
from tests.conftest import Api, World

REP = "repa1@x.test"
MANAGER = "managera@x.test"
CHECK_IN = "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }"
CHECK_OUT = "mutation($i: CheckOutInput!) { checkOut(input: $i) { id checkOutAt } }"
MY_DAY = "query($d: Date!) { myDay(date: $d) { repId } }"
PLAN = "mutation($d: Date!, $o: PlanOptionsInput) { planMyDay(date: $d, options: $o) { repId } }"
ACCOUNTS = (
    "query($f: Int!, $a: String, $o: AccountOrderBy!, $filter: AccountFilterInput) {"
    " myAccounts(first: $f, after: $a, orderBy: $o, filter: $filter) { totalCount } }"
)
REPLAN = (
    "mutation($p: PositionInput!, $at: DateTime!) { replanMyDay(position: $p, at: $at) { repId } }"
)
CRUMBS = "mutation($p: [BreadcrumbInput!]!) { recordBreadcrumbs(points: $p) { accepted } }"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


async def _raw(api: Api, body: str) -> dict[str, Any]:
    """POST a body as text: lets a test send what json.dumps would not (NaN, lone surrogates)."""
    headers = {"content-type": "application/json"}
    if api.token:
        headers["Authorization"] = f"Bearer {api.token}"
    response = await api.client.post("/graphql", content=body.encode("utf-8"), headers=headers)
    assert response.status_code < 500, response.text
    result: dict[str, Any] = response.json()
    return result


def _bad_input(body: dict[str, Any], field: str) -> None:
    errors = body.get("errors") or []
    assert errors, body
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, body
    assert body.get("data") is None, body


def _check_in(world: World, **changes: Any) -> dict[str, Any]:
    base = {
        "clientId": "input-probe-1",
        "accountId": str(world.accounts["a1"][0]),
        "at": _now().isoformat(),
        "position": {"lat": 47.101, "lon": 9.52},
    }
    return base | changes


# ---- scalars the GraphQL layer refuses -------------------------------------------------------

RAW_CASES: list[tuple[str, str, str, str]] = [
    (
        "NaN latitude",
        "input.position.lat",
        '{"query": <<Q>>, "variables": {"i": {"clientId": "input-probe-1", "accountId": "ACC",'
        ' "at": "NOW", "position": {"lat": NaN, "lon": 9.52}}}}',
        CHECK_IN,
    ),
    (
        "Infinity (1e400) longitude",
        "position.lon",
        '{"query": <<Q>>, "variables": {"p": {"lat": 47.1, "lon": 1e400}, "at": "NOW"}}',
        REPLAN,
    ),
    (
        "-Infinity accuracy in a batch",
        "points[0].accuracyM",
        '{"query": <<Q>>, "variables": {"p": [{"recordedAt": "NOW", "lat": 47.1, "lon": 9.5,'
        ' "accuracyM": -Infinity}]}}',
        CRUMBS,
    ),
    (
        "lone surrogate in notes",
        "input.notes",
        '{"query": <<Q>>, "variables": {"i": {"clientId": "input-probe-1", "accountId": "ACC",'
        ' "at": "NOW", "position": {"lat": 47.101, "lon": 9.52}, "notes": "caf\\ud800e"}}}',
        CHECK_IN,
    ),
    (
        "lone surrogate in a filter",
        "filter.segment",
        '{"query": <<Q>>, "variables": {"f": 10, "o": "NAME", "filter": {"segment": "\\udfff"}}}',
        ACCOUNTS,
    ),
]


@pytest.mark.parametrize(
    ("field", "body", "document"), [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES]
)
async def test_non_finite_numbers_and_surrogates(
    api: Api, world: World, field: str, body: str, document: str
) -> None:
    """NaN, Infinity and unpaired surrogates in variables: BAD_USER_INPUT on the argument path."""
    await api.login(REP, world.password)
    text = (
        body.replace("<<Q>>", json.dumps(document))
        .replace("ACC", str(world.accounts["a1"][0]))
        .replace("NOW", _now().isoformat())
    )
    _bad_input(await _raw(api, text), field)


async def test_impossible_dates_and_times(api: Api, world: World) -> None:
    await api.login(REP, world.password)
    _bad_input(await api.gql(MY_DAY, d="2026-02-30"), "date")
    _bad_input(await api.gql(MY_DAY, d="yesterday"), "date")
    _bad_input(await api.gql(CHECK_IN, i=_check_in(world, at="25:99")), "input.at")
    _bad_input(await api.gql('{ myDay(date: "2026-02-30") { repId } }'), "date")


async def test_integers_beyond_32_bits(api: Api, world: World) -> None:
    await api.login(REP, world.password)
    _bad_input(await api.gql(ACCOUNTS, f=2**31, o="NAME"), "first")
    _bad_input(await api.gql(ACCOUNTS, f=-(2**40), o="NAME"), "first")
    _bad_input(await api.gql(ACCOUNTS, f=1.5, o="NAME"), "first")
    _bad_input(await api.gql("{ myAccounts(first: 3000000000) { totalCount } }"), "first")
    _bad_input(await api.gql("mutation { markNotificationsRead(upTo: 99999999999) }"), "upTo")


async def test_nul_characters_are_refused_before_the_database(api: Api, world: World) -> None:
    """PostgreSQL refuses NUL in text (the old answer was a driver error); SQLite stored it."""
    await api.login(REP, world.password)
    _bad_input(await api.gql(CHECK_IN, i=_check_in(world, notes="a\x00b")), "input.notes")
    _bad_input(await api.gql(ACCOUNTS, f=5, o="NAME", filter={"tier": "A\x00"}), "filter.tier")
    _bad_input(
        await api.gql('{ myAccounts(filter: {tier: "A\\u0000"}) { totalCount } }'), "filter.tier"
    )
    await api.login(MANAGER, world.password)
    _bad_input(
        await api.gql(
            "mutation($p: ProposeAlignmentInput!) { proposeAlignment(params: $p) { id } }",
            p={"teamId": str(world.teams["A"]), "name": "What\x00if"},
        ),
        "params.name",
    )


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


TAMPERED = {
    "id beyond 64 bits": '["name", "Acct", 99999999999999999999999]',
    "id beyond 32 bits": '["name", "Acct", 3000000000]',
    "infinite score": '["priority", 1e999, 1]',
    "NaN score": '["priority", NaN, 1]',
    "boolean id": '["name", "Acct", true]',
    "nested key": '["name", ["x"], 1]',
    "NUL in the name": '["name", "A\\u0000", 1]',
    "lone surrogate": '["name", "\\ud800", 1]',
    "not JSON": "{{{",
}


@pytest.mark.parametrize("key", list(TAMPERED.values()), ids=list(TAMPERED))
async def test_tampered_cursors(api: Api, world: World, key: str) -> None:
    await api.login(REP, world.password)
    order = "PRIORITY" if "priority" in key else "NAME"
    body = await api.gql(ACCOUNTS, f=5, a=_cursor(key), o=order)
    _bad_input(body, "after")


async def test_a_real_cursor_still_pages(api: Api, world: World) -> None:
    await api.login(REP, world.password)
    page = "query($a: String) { myAccounts(first: 2, after: $a) { edges { node { id } } pageInfo { endCursor } } }"
    first: Any = await api.gql(page)
    second: Any = await api.gql(page, a=first["data"]["myAccounts"]["pageInfo"]["endCursor"])
    assert len(second["data"]["myAccounts"]["edges"]) == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "9" * 400},
        {"sub": "99999999999999999999"},
        {"sub": "2147483648"},
        {"sub": "-1"},
        {"sub": "١"},  # an Arabic-Indic digit: int() reads it, an id it is not
        {"sub": 7},
        {"sub": "1", "exp": 10**30},
        {"sub": "1", "exp": 2**63},
    ],
    ids=[
        "400 digits",
        "20 digits",
        "2^31",
        "negative",
        "non-ASCII digit",
        "number",
        "exp 1e30",
        "exp 2^63",
    ],
)
async def test_tokens_with_absurd_claims_are_unauthenticated(
    api: Api, settings: Settings, world: World, claims: dict[str, Any]
) -> None:
    """Signed with the real key, so only the claim decoding stands between them and a 500."""
    token = jwt.encode(
        {"exp": 2**31 - 1, "iat": 1, "typ": "access", "role": "admin"} | claims,
        settings.secret_key,
        algorithm="HS256",
    )
    response = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 401), response.text
    if response.status_code == 200:
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---- windows and caps --------------------------------------------------------------------------


async def test_check_ins_from_the_distant_past_are_refused(api: Api, world: World) -> None:
    """Year 1 and ten years back are refused on 'at'; a few days offline still syncs."""
    await api.login(REP, world.password)
    for at in ("0001-01-01T00:00:00+14:00", "0001-01-01T09:00:00+00:00"):
        _bad_input(await api.gql(CHECK_IN, i=_check_in(world, at=at)), "at")
    ten_years = (_now() - dt.timedelta(days=3653)).isoformat()
    _bad_input(await api.gql(CHECK_IN, i=_check_in(world, at=ten_years)), "at")
    queued = (_now() - dt.timedelta(days=4)).isoformat()
    body: Any = await api.gql(CHECK_IN, i=_check_in(world, at=queued, clientId="offline-4-days"))
    assert "errors" not in body, body


async def test_a_visit_lasts_at_most_a_day(api: Api, runtime: Runtime, world: World) -> None:
    now = _now()
    async with runtime.sessionmaker() as session, session.begin():
        for client_id, started in (
            ("long-visit-1", now - dt.timedelta(days=20)),
            ("short-visit", now - dt.timedelta(hours=2)),
        ):
            await visit_service.check_in(
                session,
                rep_id=world.reps["a1"],
                visible=true(),
                cmd=visit_service.CheckIn(
                    client_id=client_id,
                    account_id=world.accounts["a1"][0],
                    at=started,
                    lat=47.101,
                    lon=9.52,
                ),
                now=now,
            )
    await api.login(REP, world.password)
    out = {"clientId": "checkout-long", "visitClientId": "long-visit-1", "at": now.isoformat()}
    _bad_input(await api.gql(CHECK_OUT, i=out), "at")
    ok: Any = await api.gql(
        CHECK_OUT, i=out | {"clientId": "checkout-short", "visitClientId": "short-visit"}
    )
    assert "errors" not in ok, ok


async def test_plans_far_from_today_are_refused(api: Api, world: World) -> None:
    await api.login(REP, world.password)
    _bad_input(await api.gql(MY_DAY, d="9999-12-31"), "date")
    _bad_input(await api.gql(PLAN, d="9999-12-31"), "date")
    _bad_input(await api.gql(PLAN, d="0001-01-01"), "date")
    body = await api.gql(REPLAN, p={"lat": 47.1, "lon": 9.52}, at="9999-12-31T10:00:00+00:00")
    _bad_input(body, "at")


async def test_long_names_and_notes_are_capped(api: Api, world: World) -> None:
    await api.login(MANAGER, world.password)
    body = await api.gql(
        "mutation($p: ProposeAlignmentInput!) { proposeAlignment(params: $p) { id } }",
        p={"teamId": str(world.teams["A"]), "name": "x" * 50_000},
    )
    _bad_input(body, "params.name")
    assert len(json.dumps(body)) < 1000
    await api.login(REP, world.password)
    _bad_input(await api.gql(ACCOUNTS, f=5, o="NAME", filter={"tier": "t" * 5000}), "filter.tier")


async def test_huge_id_lists_get_a_short_answer(api: Api, world: World) -> None:
    """30,000 mustVisit ids: one short BAD_USER_INPUT, not a 198 kB echo of every id."""
    await api.login(REP, world.password)
    ids = [str(100_000 + i) for i in range(30_000)]
    today = dt.date.today().isoformat()
    body = await api.gql(PLAN, d=today, o={"mustVisit": ids})
    _bad_input(body, "options.mustVisit")
    assert len(json.dumps(body)) < 1000
    replan = await api.gql(
        "mutation($p: PositionInput!, $at: DateTime!, $c: PlanChangesInput) {"
        " replanMyDay(position: $p, at: $at, changes: $c) { repId } }",
        p={"lat": 47.101, "lon": 9.52},
        at=_now().isoformat(),
        c={"cancelled": ids},
    )
    _bad_input(replan, "changes.cancelled")
    # Under the cap, unknown ids are NOT_FOUND and the message names a few, not all.
    few = await api.gql(PLAN, d=today, o={"mustVisit": ids[:150]})
    assert few["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "options.mustVisit"}  # type: ignore[index]
    assert len(few["errors"][0]["message"]) < 200  # type: ignore[index]


# ---- production: published documents, masked errors ---------------------------------------------


@pytest.fixture
async def production(settings: Settings, world: World) -> AsyncIterator[Api]:
    """A production app (trusted documents only, unexpected errors masked) on the same data."""
    runtime = Runtime.create(
        settings.model_copy(
            update={"environment": "production", "secret_key": secrets.token_urlsafe(48)}
        )
    )
    try:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://prod") as client:
            api = Api(client)
            assert (await api.login(REP, world.password)).status_code == 200
            yield api
    finally:
        await runtime.close()


def _published(name: str) -> str:
    from backend.api.schema import OPERATIONS_DIR

    return (OPERATIONS_DIR / name).read_text()


async def _operation(api: Api, document: str, operation: str, variables: str) -> dict[str, Any]:
    body = json.dumps({"query": document, "operationName": operation})
    return await _raw(api, body[:-1] + f', "variables": {variables}}}')


async def test_production_keeps_bad_user_input_visible(production: Api, world: World) -> None:
    """Masking hides crashes, not the caller's mistakes: each bad input keeps its code."""
    visits, accounts, day = (
        _published("visits.graphql"),
        _published("accounts.graphql"),
        _published("app_day.graphql"),
    )
    acc, now = str(world.accounts["a1"][0]), _now().isoformat()

    def check_in(extra: str, position: str = '{"lat": 47.101, "lon": 9.52}') -> str:
        fields = {"clientId": "prod-probe-1", "accountId": acc, "at": now}
        return '{"input": ' + json.dumps(fields)[:-1] + f', "position": {position}{extra}}}}}'

    cases = [
        (visits, "CheckIn", check_in(', "notes": "a\\u0000b"'), "input.notes"),
        (visits, "CheckIn", check_in(', "notes": "\\ud83d"'), "input.notes"),
        (
            visits,
            "CheckIn",
            check_in("", '{"lat": NaN, "lon": 9.52}'),
            "input.position.lat",
        ),
        (accounts, "MyAccounts", '{"first": 4294967296}', "first"),
        (
            accounts,
            "MyAccounts",
            json.dumps({"after": _cursor('["priority", 1, 99999999999]')}),
            "after",
        ),
        (day, "AppMyDay", '{"date": "2026-13-01"}', "date"),
        (day, "AppMyDay", '{"date": "9999-12-31"}', "date"),
    ]
    for document, operation, variables, field in cases:
        body = await _operation(production, document, operation, variables)
        _bad_input(body, field)
        assert body["errors"][0]["message"] != "Unexpected error."
