"""The probe table of the permission matrix: one entry per root field of the GraphQL schema.

Each root field (``Query.x``, ``Mutation.y``, ``Subscription.z``) has one or more
:class:`Case`: a document, its variables (built from the seeded :class:`Scene`) and the
expected outcome for every viewer. The objects probed belong to rep ``a1`` of team A, so the
viewers are:

- ``a1`` the owner rep, ``a2`` another rep of the same team, ``ma`` the team's manager;
- ``b1`` a rep of the other team, ``mb`` the other team's manager;
- ``admin``; ``anon`` (no token), which gets ``UNAUTHENTICATED`` unless a case says otherwise.

Outcomes are :func:`ok` (data, with an optional check of it) or :func:`err` (a code and
optionally the field at fault). A ``missing`` variable set turns every ``NOT_FOUND`` into a
comparison with the answer for an id that does not exist: the two must be indistinguishable.
Mutations are probed with throwaway objects or with input that fails validation *after* the
permission check (an allowed viewer then gets ``BAD_USER_INPUT`` for that field, a refused one
``NOT_FOUND``/``FORBIDDEN``), which keeps the matrix cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import World

VIEWERS = ("anon", "b1", "mb", "a2", "ma", "admin", "a1")
"""Order matters for state-changing probes: the owner acts last."""
REPS = ("a1", "a2", "b1")
MANAGERS_AND_ADMIN = ("ma", "mb", "admin")
TEAM_OF = {"a1": "A", "a2": "A", "ma": "A", "b1": "B", "b2": "B", "mb": "B"}
EMAIL = {
    "a1": "repa1@x.test",
    "a2": "repa2@x.test",
    "b1": "repb1@x.test",
    "b2": "repb2@x.test",
    "ma": "managera@x.test",
    "mb": "managerb@x.test",
    "admin": "admin@x.test",
}
MISSING_ID = "999999"


@dataclass
class Scene:
    """The seeded world plus the throwaway objects the probes point at."""

    world: World
    draft_a: int
    territory_of: dict[str, int]
    job_id: str
    visit_client_id: str
    endpoint_a1: str
    notices: dict[str, int]
    """User key -> number of notices seeded in their inbox (a1 has two)."""
    plan_date: dt.date

    def rep(self, key: str) -> str:
        return str(self.world.reps[key])

    def user(self, key: str) -> str:
        return str(self.world.users[key])

    def team(self, key: str) -> str:
        return str(self.world.teams[key])

    def accounts(self, *owners: str) -> set[str]:
        return {str(a) for o in owners for a in self.world.accounts[o]}

    @property
    def active_a(self) -> str:
        return str(self.world.alignment_ids["A"])


Check = Callable[[Any, Scene, str], None]


@dataclass(frozen=True)
class Outcome:
    """What a viewer must get: data (``code`` None) or an error code (and field)."""

    code: str | None = None
    field: str | None = None
    check: Check | None = None


def ok(check: Check | None = None) -> Outcome:
    """Data, no errors; ``check(payload, scene, viewer)`` may assert on the field's value."""
    return Outcome(check=check)


def err(code: str, field: str | None = None) -> Outcome:
    """An error with ``extensions.code == code`` (and ``extensions.field == field`` if given)."""
    return Outcome(code=code, field=field)


NOT_FOUND = err("NOT_FOUND")
FORBIDDEN = err("FORBIDDEN")


@dataclass(frozen=True)
class Case:
    """One probe of a root field."""

    name: str
    query: str
    variables: Callable[[Scene, str], dict[str, Any]]
    expect: Mapping[str, Outcome]
    missing: Callable[[Scene, str], dict[str, Any]] | None = None
    anon: Outcome = field(default_factory=lambda: err("UNAUTHENTICATED"))

    def outcome(self, viewer: str) -> Outcome:
        if viewer == "anon":
            return self.anon
        return self.expect[viewer]


def _each(outcome: Outcome, *viewers: str) -> dict[str, Outcome]:
    return dict.fromkeys(viewers, outcome)


def _no_vars(_s: Scene, _v: str) -> dict[str, Any]:
    return {}


# ---- checks ---------------------------------------------------------------------------------


def _ids(items: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {str(i[key]) for i in items}


def is_me(payload: Any, s: Scene, v: str) -> None:
    assert payload["id"] == s.user(v)


def own_territory_or_none(payload: Any, s: Scene, v: str) -> None:
    if v in REPS:
        assert payload is not None and payload["repId"] == s.rep(v)
        assert payload["alignment"]["id"] == str(s.world.alignment_ids[TEAM_OF[v]])
    else:
        assert payload is None


def is_account(payload: Any, s: Scene, _v: str) -> None:
    assert payload["id"] == str(s.world.accounts["a1"][0])


def teams_of(*teams: str) -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        assert _ids(payload) == {s.team(t) for t in teams}

    return check


def reps_of(*reps: str) -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        assert _ids(payload) == {s.rep(r) for r in reps}

    return check


def accounts_of(*owners: str) -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        listed = {e["node"]["id"] for e in payload["edges"]}
        assert listed == s.accounts(*owners)
        assert payload["totalCount"] == len(listed)

    return check


def team_a_report(payload: Any, s: Scene, _v: str) -> None:
    assert payload["teamId"] == s.team("A")


def team_a_coverage(payload: Any, s: Scene, _v: str) -> None:
    assert payload["teamId"] == s.team("A")
    assert {r["repId"] for r in payload["byRep"]} <= {s.rep("a1"), s.rep("a2")}
    assert payload["total"]["accounts"] == len(s.accounts("a1", "a2"))


def a1_day(payload: Any, s: Scene, _v: str) -> None:
    assert payload["repId"] == s.rep("a1")
    assert {stop["accountId"] for stop in payload["stops"]} <= s.accounts("a1")
    assert {d["accountId"] for d in payload["dropped"]} <= s.accounts("a1")


def has_attribution(payload: Any, _s: Scene, _v: str) -> None:
    assert "OpenStreetMap" in payload["attribution"]


def territories_of(*reps: str, key: str = "repId") -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        assert sorted(t[key] for t in payload) == sorted(s.rep(r) for r in reps)

    return check


def own_territory_outline(payload: Any, s: Scene, v: str) -> None:
    territories_of(v)(payload, s, v)
    assert payload[0]["territoryId"] == str(s.territory_of[v])


def alignment_is(which: str) -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        expected = s.active_a if which == "active" else str(s.draft_a)
        assert payload["id"] == expected

    return check


def alignments_are(*which: str) -> Check:
    def check(payload: Any, s: Scene, _v: str) -> None:
        wanted = {s.active_a if w == "active" else str(s.draft_a) for w in which}
        assert _ids(payload) == wanted

    return check


def comparison_of_team_a(payload: Any, s: Scene, _v: str) -> None:
    assert payload["a"]["teamId"] == payload["b"]["teamId"] == s.team("A")
    assert {m["accountId"] for m in payload["moves"]} <= s.accounts("a1", "a2")


def is_ma_job(payload: Any, s: Scene, _v: str) -> None:
    assert payload["id"] == s.job_id


def own_notices(payload: Any, s: Scene, v: str) -> None:
    assert len(payload["items"]) == s.notices[v]
    assert {i["payload"]["for_user"] for i in payload["items"]} == {v}
    assert payload["unread"] == s.notices[v]


def key_or_none(payload: Any, _s: Scene, _v: str) -> None:
    assert payload is None or isinstance(payload, str)


def acks_of_team_a(payload: Any, s: Scene, _v: str) -> None:
    assert {r["repId"] for r in payload} == {s.rep("a1"), s.rep("a2")}


def checked_in_at_a1_account(payload: Any, s: Scene, v: str) -> None:
    assert payload["accountId"] == str(s.world.accounts["a1"][0])
    assert payload["repId"] == s.rep(v)


def checked_out(payload: Any, s: Scene, _v: str) -> None:
    assert payload["clientId"] == s.visit_client_id and payload["checkOutAt"]


def one_crumb(payload: Any, _s: Scene, _v: str) -> None:
    assert payload == {"accepted": 1, "duplicates": 0, "rejected": []}


def own_unread_marked(payload: Any, s: Scene, v: str) -> None:
    assert payload == s.notices[v]


def a1_notice(payload: Any, _s: Scene, _v: str) -> None:
    assert payload["payload"]["for_user"] == "a1" and payload["acknowledgedAt"]


def is_true(payload: Any, _s: Scene, _v: str) -> None:
    assert payload is True


def is_false(payload: Any, _s: Scene, _v: str) -> None:
    assert payload is False


# ---- the table ------------------------------------------------------------------------------

A_TEAM_READERS = ("a1", "ma", "admin")


def _future(s: Scene) -> str:
    return (dt.date.today() + dt.timedelta(days=7)).isoformat()


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


PROBES: dict[str, list[Case]] = {
    "Query.me": [
        Case(
            "me", "{ me { id email role teamId repId } }", _no_vars, _each(ok(is_me), *VIEWERS[1:])
        ),
    ],
    "Query.myTerritory": [
        Case(
            "myTerritory",
            "{ myTerritory { id repId accountCount alignment { id teamId } } }",
            _no_vars,
            _each(ok(own_territory_or_none), *VIEWERS[1:]),
        ),
    ],
    "Query.account": [
        Case(
            "account of a1",
            "query($id: ID!) { account(id: $id) { id name teamId } }",
            lambda s, v: {"id": str(s.world.accounts["a1"][0])},
            {**_each(ok(is_account), *A_TEAM_READERS), **_each(NOT_FOUND, "a2", "b1", "mb")},
            missing=lambda s, v: {"id": MISSING_ID},
        ),
    ],
    "Query.teams": [
        Case(
            "teams",
            "{ teams { id name } }",
            _no_vars,
            {
                **_each(ok(teams_of("A")), "a1", "a2", "ma"),
                **_each(ok(teams_of("B")), "b1", "mb"),
                "admin": ok(teams_of("A", "B")),
            },
        ),
    ],
    "Query.reps": [
        Case(
            "reps of team A",
            "query($t: ID) { reps(teamId: $t) { id teamId userId } }",
            lambda s, v: {"t": s.team("A")},
            {
                "a1": ok(reps_of("a1")),
                "a2": ok(reps_of("a2")),
                "b1": ok(reps_of()),
                "mb": ok(reps_of()),
                "ma": ok(reps_of("a1", "a2")),
                "admin": ok(reps_of("a1", "a2")),
            },
        ),
        Case(
            "reps",
            "{ reps { id teamId } }",
            _no_vars,
            {
                "a1": ok(reps_of("a1")),
                "a2": ok(reps_of("a2")),
                "b1": ok(reps_of("b1")),
                "mb": ok(reps_of("b1", "b2")),
                "ma": ok(reps_of("a1", "a2")),
                "admin": ok(reps_of("a1", "a2", "b1", "b2")),
            },
        ),
    ],
    "Query.myAccounts": [
        Case(
            "myAccounts",
            "{ myAccounts(first: 100) { totalCount edges { node { id teamId } } } }",
            _no_vars,
            {
                "a1": ok(accounts_of("a1")),
                "a2": ok(accounts_of("a2")),
                "b1": ok(accounts_of("b1")),
                "mb": ok(accounts_of("b1", "b2")),
                "ma": ok(accounts_of("a1", "a2")),
                "admin": ok(accounts_of("a1", "a2", "b1", "b2")),
            },
        ),
    ],
    "Query.coverage": [
        Case(
            "coverage of team A",
            "query($t: ID!, $f: Date!, $to: Date!) { coverage(teamId: $t, from: $f, to: $to) {"
            " teamId total { accounts } byRep { repId accounts }"
            " overdue { accountId repId } } }",
            lambda s, v: {"t": s.team("A"), "f": "2025-01-01", "to": "2025-01-31"},
            {
                **_each(FORBIDDEN, *REPS),
                "mb": NOT_FOUND,
                **_each(ok(team_a_coverage), "ma", "admin"),
            },
            missing=lambda s, v: {"t": MISSING_ID, "f": "2025-01-01", "to": "2025-01-31"},
        ),
    ],
    "Query.windshield": [
        Case(
            "windshield of team A",
            "query($t: ID!, $f: Date!, $to: Date!) { windshield(teamId: $t, from: $f, to: $to) {"
            " teamId weeks { repId plannedDays } } }",
            lambda s, v: {"t": s.team("A"), "f": "2025-01-01", "to": "2025-01-31"},
            {**_each(FORBIDDEN, *REPS), "mb": NOT_FOUND, **_each(ok(team_a_report), "ma", "admin")},
            missing=lambda s, v: {"t": MISSING_ID, "f": "2025-01-01", "to": "2025-01-31"},
        ),
    ],
    "Query.myDay": [
        Case(
            "myDay of a1",
            "query($d: Date!, $r: ID) { myDay(date: $d, repId: $r) { repId"
            " stops { accountId } dropped { accountId } } }",
            lambda s, v: {"d": s.plan_date.isoformat(), "r": s.rep("a1")},
            {**_each(ok(a1_day), *A_TEAM_READERS), **_each(NOT_FOUND, "a2", "b1", "mb")},
            missing=lambda s, v: {"d": s.plan_date.isoformat(), "r": MISSING_ID},
        ),
    ],
    "Query.roadNetwork": [
        Case(
            "roadNetwork (public map data, but only for users)",
            "{ roadNetwork(maxSegments: 3, bbox: {south: 47.1, west: 9.5, north: 47.2, east: 9.6})"
            " { segmentCount attribution } }",
            _no_vars,
            _each(ok(has_attribution), *VIEWERS[1:]),
        ),
    ],
    "Query.territoryOutlines": [
        Case(
            "territoryOutlines of alignment A",
            "query($a: ID) { territoryOutlines(alignmentId: $a) { territoryId alignmentId repId"
            " accountCount } }",
            lambda s, v: {"a": s.active_a},
            {
                "a1": ok(own_territory_outline),
                "a2": ok(own_territory_outline),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(ok(territories_of("a1", "a2")), "ma", "admin"),
            },
            missing=lambda s, v: {"a": MISSING_ID},
        ),
        Case(
            "territoryOutlines (active ones)",
            "{ territoryOutlines { territoryId repId accountCount } }",
            _no_vars,
            {
                "a1": ok(own_territory_outline),
                "a2": ok(own_territory_outline),
                "b1": ok(own_territory_outline),
                "mb": ok(territories_of("b1", "b2")),
                "ma": ok(territories_of("a1", "a2")),
                "admin": ok(territories_of("a1", "a2", "b1", "b2")),
            },
        ),
    ],
    "Query.territories": [
        Case(
            "territories of alignment A",
            "query($a: ID) { territories(alignmentId: $a) { id repId accountCount"
            " alignment { id teamId } } }",
            lambda s, v: {"a": s.active_a},
            {
                "a1": ok(territories_of("a1")),
                "a2": ok(territories_of("a2")),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(ok(territories_of("a1", "a2")), "ma", "admin"),
            },
            missing=lambda s, v: {"a": MISSING_ID},
        ),
        Case(
            "territories of team A (active alignment)",
            "query($t: ID) { territories(teamId: $t) { id repId } }",
            lambda s, v: {"t": s.team("A")},
            {
                "a1": ok(territories_of("a1")),
                "a2": ok(territories_of("a2")),
                **_each(ok(territories_of()), "b1", "mb"),
                **_each(ok(territories_of("a1", "a2")), "ma", "admin"),
            },
        ),
    ],
    "Query.alignment": [
        Case(
            "active alignment of team A",
            "query($id: ID!) { alignment(id: $id) { id teamId state } }",
            lambda s, v: {"id": s.active_a},
            {
                **_each(ok(alignment_is("active")), "a1", "a2", "ma", "admin"),
                **_each(NOT_FOUND, "b1", "mb"),
            },
            missing=lambda s, v: {"id": MISSING_ID},
        ),
        Case(
            "draft of team A (managers only)",
            "query($id: ID!) { alignment(id: $id) { id teamId state } }",
            lambda s, v: {"id": str(s.draft_a)},
            {**_each(ok(alignment_is("draft")), "ma", "admin"), **_each(NOT_FOUND, *REPS, "mb")},
            missing=lambda s, v: {"id": MISSING_ID},
        ),
    ],
    "Query.alignments": [
        Case(
            "alignments of team A",
            "query($t: ID) { alignments(teamId: $t) { id teamId state } }",
            lambda s, v: {"t": s.team("A")},
            {
                **_each(ok(alignments_are("active")), "a1", "a2"),
                **_each(ok(alignments_are()), "b1", "mb"),
                **_each(ok(alignments_are("active", "draft")), "ma", "admin"),
            },
        ),
    ],
    "Query.compareAlignments": [
        Case(
            "compare active A with draft A",
            "query($a: ID!, $b: ID!) { compareAlignments(a: $a, b: $b) { a { id teamId }"
            " b { id teamId } moves { accountId fromRepId toRepId } } }",
            lambda s, v: {"a": s.active_a, "b": str(s.draft_a)},
            {**_each(NOT_FOUND, *REPS, "mb"), **_each(ok(comparison_of_team_a), "ma", "admin")},
            missing=lambda s, v: {"a": s.active_a, "b": MISSING_ID},
        ),
        Case(
            "compare active A with itself (visible to reps, but managers only)",
            "query($a: ID!, $b: ID!) { compareAlignments(a: $a, b: $b) { a { id } moves { accountId } } }",
            lambda s, v: {"a": s.active_a, "b": s.active_a},
            {
                **_each(FORBIDDEN, "a1", "a2"),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(ok(), "ma", "admin"),
            },
        ),
    ],
    "Query.job": [
        Case(
            "a job started by manager A",
            "query($id: ID!) { job(id: $id) { id kind state } }",
            lambda s, v: {"id": s.job_id},
            {**_each(ok(is_ma_job), "ma", "admin"), **_each(NOT_FOUND, *REPS, "mb")},
            missing=lambda s, v: {"id": "00000000-0000-4000-8000-000000000000"},
        ),
    ],
    "Query.notifications": [
        Case(
            "own inbox",
            "{ notifications(after: 0) { items { id cursor type payload } unread } }",
            _no_vars,
            _each(ok(own_notices), *VIEWERS[1:]),
        ),
    ],
    "Query.vapidPublicKey": [
        Case(
            "vapidPublicKey (public by design: a Web Push application server key)",
            "{ vapidPublicKey }",
            _no_vars,
            _each(ok(key_or_none), *VIEWERS[1:]),
            anon=ok(key_or_none),
        ),
    ],
    "Query.territoryAcknowledgements": [
        Case(
            "acknowledgements of alignment A",
            "query($a: ID!) { territoryAcknowledgements(alignmentId: $a) { repId userId } }",
            lambda s, v: {"a": s.active_a},
            {
                **_each(FORBIDDEN, "a1", "a2"),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(ok(acks_of_team_a), "ma", "admin"),
            },
            missing=lambda s, v: {"a": MISSING_ID},
        ),
    ],
    # ---- mutations ------------------------------------------------------------------------
    "Mutation.checkIn": [
        Case(
            "check in at a1's account",
            "mutation($i: CheckInInput!) { checkIn(input: $i) { id clientId accountId repId } }",
            lambda s, v: {
                "i": {
                    "clientId": f"probe-checkin-{v}",
                    "accountId": str(s.world.accounts["a1"][0]),
                    "at": _now_iso(),
                    "position": {"lat": 47.101, "lon": 9.52},
                }
            },
            {
                "a1": ok(checked_in_at_a1_account),
                **_each(NOT_FOUND, "a2", "b1"),
                **_each(FORBIDDEN, *MANAGERS_AND_ADMIN),
            },
            missing=lambda s, v: {
                "i": {
                    "clientId": f"probe-missing-{v}",
                    "accountId": MISSING_ID,
                    "at": _now_iso(),
                    "position": {"lat": 47.101, "lon": 9.52},
                }
            },
        ),
    ],
    "Mutation.checkOut": [
        Case(
            "check out of a1's visit",
            "mutation($i: CheckOutInput!) { checkOut(input: $i) { id clientId checkOutAt } }",
            lambda s, v: {
                "i": {
                    "clientId": f"probe-checkout-{v}",
                    "visitClientId": s.visit_client_id,
                    "at": _now_iso(),
                }
            },
            {
                "a1": ok(checked_out),
                **_each(NOT_FOUND, "a2", "b1"),
                **_each(FORBIDDEN, *MANAGERS_AND_ADMIN),
            },
            missing=lambda s, v: {
                "i": {
                    "clientId": f"probe-checkout-{v}",
                    "visitClientId": "no-such-visit",
                    "at": _now_iso(),
                }
            },
        ),
    ],
    "Mutation.recordBreadcrumbs": [
        Case(
            "a breadcrumb of one's own",
            "mutation($p: [BreadcrumbInput!]!) { recordBreadcrumbs(points: $p) { accepted"
            " duplicates rejected { index } } }",
            lambda s, v: {"p": [{"recordedAt": _now_iso(), "lat": 47.1, "lon": 9.52}]},
            {**_each(ok(one_crumb), *REPS), **_each(FORBIDDEN, *MANAGERS_AND_ADMIN)},
        ),
    ],
    "Mutation.planMyDay": [
        Case(
            "plan a1's day (bad options, checked after the permission)",
            "mutation($d: Date!, $r: ID) { planMyDay(date: $d, repId: $r,"
            " options: {maxCandidates: 0}) { repId } }",
            lambda s, v: {"d": s.plan_date.isoformat(), "r": s.rep("a1")},
            {
                **_each(err("BAD_USER_INPUT", "options.maxCandidates"), *A_TEAM_READERS),
                **_each(NOT_FOUND, "a2", "b1", "mb"),
            },
            missing=lambda s, v: {"d": s.plan_date.isoformat(), "r": MISSING_ID},
        ),
    ],
    "Mutation.replanMyDay": [
        Case(
            "replan one's own day (reps only; bad position after the check)",
            "mutation($at: DateTime!) { replanMyDay(position: {lat: 100, lon: 9.5}, at: $at)"
            " { repId } }",
            lambda s, v: {"at": _now_iso()},
            {
                **_each(err("BAD_USER_INPUT", "position.lat"), *REPS),
                **_each(err("BAD_USER_INPUT", "repId"), *MANAGERS_AND_ADMIN),
            },
        ),
    ],
    "Mutation.proposeAlignment": [
        Case(
            "propose for team A (bad mode, checked after the permission)",
            'mutation($t: ID!) { proposeAlignment(params: {teamId: $t, mode: "bogus"}) { id } }',
            lambda s, v: {"t": s.team("A")},
            {
                **_each(FORBIDDEN, "a1", "a2"),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(err("BAD_USER_INPUT", "params.mode"), "ma", "admin"),
            },
            missing=lambda s, v: {"t": MISSING_ID},
        ),
    ],
    "Mutation.commitAlignment": [
        Case(
            "commit draft A in the past (fails after the permission)",
            "mutation($id: ID!, $d: Date!) { commitAlignment(id: $id, effectiveDate: $d) { id } }",
            lambda s, v: {"id": str(s.draft_a), "d": "2000-01-01"},
            {
                **_each(NOT_FOUND, *REPS, "mb"),
                **_each(err("BAD_USER_INPUT", "effectiveDate"), "ma", "admin"),
            },
            missing=lambda s, v: {"id": MISSING_ID, "d": "2000-01-01"},
        ),
        Case(
            "commit the active alignment A (visible to reps, managers only)",
            "mutation($id: ID!, $d: Date!) { commitAlignment(id: $id, effectiveDate: $d) { id } }",
            lambda s, v: {"id": s.active_a, "d": _future(s)},
            {
                **_each(FORBIDDEN, "a1", "a2"),
                **_each(NOT_FOUND, "b1", "mb"),
                **_each(err("CONFLICT", "id"), "ma", "admin"),
            },
        ),
    ],
    "Mutation.reassignAccounts": [
        Case(
            "edit draft A with no moves (fails after the permission)",
            "mutation($a: ID!) { reassignAccounts(alignmentId: $a, moves: []) { id } }",
            lambda s, v: {"a": str(s.draft_a)},
            {
                **_each(NOT_FOUND, *REPS, "mb"),
                **_each(err("BAD_USER_INPUT", "moves"), "ma", "admin"),
            },
            missing=lambda s, v: {"a": MISSING_ID},
        ),
        Case(
            "move team B's account into draft A",
            "mutation($a: ID!, $acc: ID!, $r: ID!) { reassignAccounts(alignmentId: $a,"
            " moves: [{accountId: $acc, repId: $r}], allowImbalance: true) { id } }",
            lambda s, v: {
                "a": str(s.draft_a),
                "acc": str(s.world.accounts["b1"][0]),
                "r": s.rep("a1"),
            },
            {
                **_each(NOT_FOUND, *REPS, "mb"),
                **_each(err("NOT_FOUND", "moves[0].accountId"), "ma", "admin"),
            },
        ),
    ],
    "Mutation.markNotificationsRead": [
        Case(
            "mark everything read (only one's own)",
            "mutation { markNotificationsRead(upTo: 1000000) }",
            _no_vars,
            _each(ok(own_unread_marked), *VIEWERS[1:]),
        ),
    ],
    "Mutation.acknowledgeTerritoryChange": [
        Case(
            "acknowledge a1's second notice (cursors are per user; others have one)",
            "mutation($id: ID!) { acknowledgeTerritoryChange(id: $id) { id payload acknowledgedAt } }",
            lambda s, v: {"id": "2"},
            {"a1": ok(a1_notice), **_each(NOT_FOUND, "a2", "b1", "mb", "ma", "admin")},
            missing=lambda s, v: {"id": MISSING_ID},
        ),
    ],
    "Mutation.registerPushSubscription": [
        Case(
            "register one's own device",
            "mutation($e: String!) { registerPushSubscription(subscription: {endpoint: $e,"
            ' p256dh: "BMgBPxTcwOWaLaVGCm5B959qRQNjpUXaLT9jKMXwiWb0P-R5ldurbjARQXSwyAgQWX258J3C06k-'
            'DOBddJyeVj8", auth: "uL33wpYOlgLVCNzC_NwzPQ"}) }',
            # A real push service and real key sizes: anything else is refused (SSRF, issue 13).
            lambda s, v: {"e": f"https://fcm.googleapis.com/fcm/send/probe-{v}"},
            _each(ok(is_true), *VIEWERS[1:]),
        ),
    ],
    "Mutation.unregisterPushSubscription": [
        Case(
            "unregister a1's device (others remove nothing)",
            "mutation($e: String!) { unregisterPushSubscription(endpoint: $e) }",
            lambda s, v: {"e": s.endpoint_a1},
            {"a1": ok(is_true), **_each(ok(is_false), "a2", "b1", "mb", "ma", "admin")},
        ),
    ],
    # Subscriptions run over WebSocket in test_permission_matrix.py (own notices only).
    "Subscription.notifications": [],
}

__all__ = ["EMAIL", "MISSING_ID", "PROBES", "TEAM_OF", "VIEWERS", "Case", "Outcome", "Scene"]
