"""The manager's coverage and windshield-time charts show the API's figures, rep by rep.

Before the manager opens the app, reps do things that move the figures apart: rep1 checks in
and out twice (coverage, tracked visit time), rep2 records a drive as breadcrumbs and one visit
(windshield time "tracked"), and every rep's day is planned (windshield time "planned"). The
test then reads each bar of the rendered SVG (label, value text and bar length) and compares it
with the API's answer to the very query the app sent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.conftest import Phone
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

MANAGER = "manager@demo.fieldrep"
VADUZ = ZoneInfo("Europe/Vaduz")
BAR_SPACE = 360 - 120 - 60  # mobile_client/js/charts.js: width - label column - value text
CHECK_IN = "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }"
CHECK_OUT = "mutation($i: CheckOutInput!) { checkOut(input: $i) { id } }"
CRUMBS = "mutation($p: [BreadcrumbInput!]!) { recordBreadcrumbs(points: $p) { accepted } }"


def _percent(ratio: float | None) -> str:
    """``fmtPercent`` in ui.js (Math.round rounds halves up)."""
    return f"{math.floor((ratio or 0) * 100 + 0.5)} %"


def _label(text: str) -> str:
    """``barChart`` shortens labels over 16 characters."""
    return f"{text[:15]}…" if len(text) > 16 else text


def _visit(server: Server, email: str, account: dict[str, Any], start: dt.datetime) -> None:
    position = {"lat": account["location"]["lat"], "lon": account["location"]["lon"]}
    visit_id = str(uuid.uuid4())
    server.gql(
        email,
        CHECK_IN,
        i={
            "clientId": visit_id,
            "accountId": account["id"],
            "at": start.isoformat(),
            "position": position,
        },
    )
    server.gql(
        email,
        CHECK_OUT,
        i={
            "clientId": str(uuid.uuid4()),
            "visitClientId": visit_id,
            "at": (start + dt.timedelta(minutes=25)).isoformat(),
            "outcome": "follow-up",
        },
    )


def _seed(server: Server) -> None:
    now = dt.datetime.now(dt.UTC)
    accounts = {
        email: [
            e["node"]
            for e in server.operation(email, "accounts", "MyAccounts", {"first": 2})["myAccounts"][
                "edges"
            ]  # type: ignore[index]
        ]
        for email in ("rep1@demo.fieldrep", "rep2@demo.fieldrep")
    }
    for i, account in enumerate(accounts["rep1@demo.fieldrep"]):
        _visit(server, "rep1@demo.fieldrep", account, now - dt.timedelta(hours=3 - i))
    _visit(
        server, "rep2@demo.fieldrep", accounts["rep2@demo.fieldrep"][0], now - dt.timedelta(hours=1)
    )
    # A 20-minute drive north at about 60 km/h, one point a minute.
    start = now - dt.timedelta(hours=2)
    points = [
        {
            "recordedAt": (start + dt.timedelta(minutes=k)).isoformat(),
            "lat": 47.06 + 0.009 * k,
            "lon": 9.52,
        }
        for k in range(21)
    ]
    server.gql("rep2@demo.fieldrep", CRUMBS, p=points)
    # Every rep's day is planned (what "planned" windshield time is made of).
    today = dt.datetime.now(VADUZ).date().isoformat()
    for rep in server.gql(MANAGER, "{ reps { id } }")["reps"]:  # type: ignore[union-attr]
        server.gql(
            MANAGER,
            "query($d: Date!, $r: ID) { myDay(date: $d, repId: $r) { version } }",
            d=today,
            r=rep["id"],
        )


def _windshield_rows(weeks: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    """What the chart must show per rep: tracked figures when driving was recorded, else planned."""
    reps: dict[str, dict[str, Any]] = {}
    for w in weeks:
        r = reps.setdefault(
            w["repId"], {"name": w["repName"], "d": 0.0, "v": 0.0, "pd": 0.0, "pv": 0.0}
        )
        r["d"] += w["actualDriveSeconds"]
        r["v"] += w["actualVisitSeconds"]
        r["pd"] += w["plannedDriveSeconds"]
        r["pv"] += w["plannedVisitSeconds"]
    rows = []
    for r in reps.values():
        tracked = r["d"] > 0
        drive, visit = (r["d"], r["v"]) if tracked else (r["pd"], r["pv"])
        if drive + visit <= 0:
            rows.append((r["name"], 0.0, "no data"))
        else:
            ratio = drive / (drive + visit)
            rows.append(
                (r["name"], ratio, f"{_percent(ratio)} {'tracked' if tracked else 'planned'}")
            )
    return rows


def _bars(phone: Phone, chart: str) -> list[tuple[str, float, str]]:
    """(label, bar length as a share of the full length, value text) of each bar drawn."""
    rows: list[list[Any]] = phone.page.locator(f"{chart} svg.chart").evaluate(
        """svg => {
          const texts = [...svg.querySelectorAll("text")].map((t) => t.textContent);
          return [...svg.querySelectorAll("rect")].map((r, i) =>
            [texts[2 * i], Number(r.getAttribute("width")), texts[2 * i + 1]]);
        }"""
    )
    return [(label, width / BAR_SPACE, text) for label, width, text in rows]


def test_coverage_and_windshield_charts_show_each_reps_figures(
    phone: Phone, server: Server
) -> None:
    """Every rep of the team has one bar per chart, with the API's value as text and length."""
    _seed(server)
    sent: dict[str, dict[str, Any]] = {}

    def remember(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            body = json.loads(request.post_data or "{}")
            if body.get("operationName") in ("Coverage", "Windshield"):
                sent[body["operationName"]] = body["variables"]

    phone.page.on("request", remember)
    phone.login(MANAGER)
    page = phone.page
    expect(page.locator("#coverage svg.chart")).to_be_visible()
    expect(page.locator("#windshield svg.chart")).to_be_visible()

    coverage = server.operation(MANAGER, "visits", "Coverage", sent["Coverage"])["coverage"]
    assert isinstance(coverage, dict)
    expected = [
        (
            _label(r["label"]),
            r["share"] or 0.0,
            f"{_percent(r['share'])} ({r['covered']}/{r['accounts']})",
        )
        for r in coverage["byRep"]
    ]
    team = {r["fullName"] for r in server.gql(MANAGER, "{ reps { fullName } }")["reps"]}  # type: ignore[union-attr]
    assert {r["label"] for r in coverage["byRep"]} == team
    rep1, rep2 = (
        server.gql(email, "{ me { fullName } }")["me"]["fullName"]  # type: ignore[index]
        for email in ("rep1@demo.fieldrep", "rep2@demo.fieldrep")
    )
    assert {r["label"]: r["visits"] for r in coverage["byRep"]}[rep1] >= 2
    drawn = _bars(phone, "#coverage")
    assert [(label, text) for label, _, text in drawn] == [
        (label, text) for label, _, text in expected
    ]
    for (_, length, _), (_, share, _) in zip(drawn, expected, strict=True):
        assert length == pytest.approx(share, abs=0.005)
    expect(page.locator("#coverage")).to_contain_text(
        f"Team: {_percent(coverage['total']['share'])}"
    )

    windshield = server.operation(MANAGER, "visits", "Windshield", sent["Windshield"])["windshield"]
    assert isinstance(windshield, dict)
    expected = [
        (_label(name), ratio, text) for name, ratio, text in _windshield_rows(windshield["weeks"])
    ]
    assert {name for name, _, _ in _windshield_rows(windshield["weeks"])} == team
    drawn = _bars(phone, "#windshield")
    assert [(label, text) for label, _, text in drawn] == [
        (label, text) for label, _, text in expected
    ]
    for (_, length, _), (_, ratio, _) in zip(drawn, expected, strict=True):
        assert length == pytest.approx(ratio, abs=0.005)
    # The rep with breadcrumbs is "tracked", the others "planned" from their plans.
    kinds = {label: text.split()[-1] for label, _, text in expected}
    assert kinds == {_label(name): "tracked" if name == rep2 else "planned" for name in team}

    phone.screenshot(
        "manager-charts.png", at=page.get_by_role("heading", name="Coverage per rep (last 30 days)")
    )
