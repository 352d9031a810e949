"""Territories for managers: versions, what-if proposals (as jobs), comparison, commit, edits."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import ErrorCode, api_error, bad_input, not_found
from backend.api.inputs import MAX_NAME, MAX_NOTE, check_text
from backend.api.queries import parse_id
from backend.api.types import Alignment, Territory
from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db import models
from backend.services.territories import (
    ProposalParams,
    TerritoryServiceError,
    alignment_kpis,
    commit_alignment,
    diff_alignments,
    propose_alignment,
    reassign_accounts,
)

MAX_MOVES = 2000
"""Hand edits per call: more than a team's book is a script gone wrong."""


@strawberry.type(description="Long work (e.g. a territory proposal) and how far it is.")
class Job:
    id: strawberry.ID
    kind: str
    state: str = strawberry.field(description="queued, running, done or failed")
    progress: float
    message: str | None
    result: strawberry.scalars.JSON | None

    @classmethod
    def from_row(cls, job: models.Job) -> Job:
        """View of a job row."""
        result: Any = job.result
        return cls(
            id=strawberry.ID(job.id),
            kind=job.kind,
            state=job.state,
            progress=job.progress,
            message=job.message,
            result=result,
        )


@strawberry.type(description="An account that changes rep between two alignments.")
class AccountMove:
    account_id: strawberry.ID
    account_name: str
    from_rep_id: strawberry.ID | None
    to_rep_id: strawberry.ID | None


@strawberry.type(description="Two alignments side by side: KPIs and the accounts that move.")
class AlignmentComparison:
    a: Alignment
    b: Alignment
    kpis_a: strawberry.scalars.JSON
    kpis_b: strawberry.scalars.JSON
    moves: list[AccountMove]


@strawberry.input(description="What a proposal optimizes for.")
class ProposeAlignmentInput:
    team_id: strawberry.ID
    mode: str = strawberry.field(default="realign", description="realign or design")
    name: str = "What-if"
    tolerance: float = 0.05
    potential_tolerance: float = 0.10
    max_moved_share: float = 0.10
    max_moved_per_rep: int | None = None


@strawberry.input(description="Move one account to a rep's territory.")
class AccountMoveInput:
    account_id: strawberry.ID
    rep_id: strawberry.ID


def _service_error(exc: TerritoryServiceError) -> Exception:
    code = ErrorCode(exc.code) if exc.code in ErrorCode.__members__ else ErrorCode.BAD_USER_INPUT
    return api_error(code, str(exc), field=exc.field, **exc.details)


async def _alignment(
    ctx: Context, viewer: Viewer, raw_id: strawberry.ID, field: str = "id"
) -> models.Alignment:
    alignment = await ctx.session.scalar(
        select(models.Alignment).where(
            models.Alignment.id == parse_id(raw_id, field), policy.alignments_visible_to(viewer)
        )
    )
    if alignment is None:
        raise not_found("Alignment", raw_id)
    return alignment


def _require_manager(viewer: Viewer, team_id: int) -> None:
    if not policy.can_manage_team(viewer, team_id):
        raise api_error(ErrorCode.FORBIDDEN, "only the team's managers may change territories")


async def _territories_of(
    ctx: Context, alignment: models.Alignment, viewer: Viewer
) -> list[Territory]:
    counts = dict(
        (
            await ctx.session.execute(
                select(models.TerritoryAssignment.territory_id, func.count())
                .where(models.TerritoryAssignment.alignment_id == alignment.id)
                .group_by(models.TerritoryAssignment.territory_id)
            )
        ).all()
    )
    query = select(models.Territory).where(models.Territory.alignment_id == alignment.id)
    if not (viewer.is_admin or viewer.is_manager):
        query = query.where(models.Territory.rep_id == viewer.rep_id)
    rows = (await ctx.session.execute(query.order_by(models.Territory.id))).scalars()
    return [Territory.from_row(t, alignment, int(counts.get(t.id, 0))) for t in rows]


@strawberry.type
class TerritoriesQuery:
    @strawberry.field(description="Territories of the active alignment (or of alignmentId).")
    async def territories(
        self,
        info: Info[Context, None],
        alignment_id: strawberry.ID | None = None,
        team_id: strawberry.ID | None = None,
    ) -> list[Territory]:
        ctx = info.context
        viewer = ctx.require_viewer()
        if alignment_id is not None:
            alignment = await _alignment(ctx, viewer, alignment_id, "alignmentId")
        else:
            team = parse_id(team_id, "teamId") if team_id is not None else viewer.team_id
            if team is None:
                raise bad_input("teamId", "pass teamId (admins have no team of their own)")
            found = await ctx.session.scalar(
                select(models.Alignment).where(
                    models.Alignment.team_id == team,
                    models.Alignment.state == models.AlignmentState.ACTIVE,
                    policy.alignments_visible_to(viewer),
                )
            )
            if found is None:
                return []
            alignment = found
        return await _territories_of(ctx, alignment, viewer)

    @strawberry.field(description="One alignment version.")
    async def alignment(self, info: Info[Context, None], id: strawberry.ID) -> Alignment:
        viewer = info.context.require_viewer()
        return Alignment.from_row(await _alignment(info.context, viewer, id))

    @strawberry.field(description="Alignment versions of a team, newest first.")
    async def alignments(
        self, info: Info[Context, None], team_id: strawberry.ID | None = None
    ) -> list[Alignment]:
        viewer = info.context.require_viewer()
        query = select(models.Alignment).where(policy.alignments_visible_to(viewer))
        if team_id is not None:
            query = query.where(models.Alignment.team_id == parse_id(team_id, "teamId"))
        rows = await info.context.session.scalars(query.order_by(models.Alignment.id.desc()))
        return [Alignment.from_row(a) for a in rows]

    @strawberry.field(description="KPIs of two alignments and the accounts that move from a to b.")
    async def compare_alignments(
        self, info: Info[Context, None], a: strawberry.ID, b: strawberry.ID
    ) -> AlignmentComparison:
        ctx = info.context
        viewer = ctx.require_viewer()
        first = await _alignment(ctx, viewer, a, "a")
        second = await _alignment(ctx, viewer, b, "b")
        if first.team_id != second.team_id:
            raise bad_input("b", "both alignments must belong to the same team")
        _require_manager(viewer, first.team_id)
        net = await ctx.runtime.road_network()
        moves = await diff_alignments(ctx.session, first.id, second.id)
        return AlignmentComparison(
            a=Alignment.from_row(first),
            b=Alignment.from_row(second),
            kpis_a=cast(Any, await alignment_kpis(ctx.session, first, net)),
            kpis_b=cast(Any, await alignment_kpis(ctx.session, second, net)),
            moves=[
                AccountMove(
                    account_id=strawberry.ID(str(m.account_id)),
                    account_name=m.account_name,
                    from_rep_id=strawberry.ID(str(m.from_rep_id)) if m.from_rep_id else None,
                    to_rep_id=strawberry.ID(str(m.to_rep_id)) if m.to_rep_id else None,
                )
                for m in moves
            ],
        )

    @strawberry.field(description="A job started by the caller (admins see every job).")
    async def job(self, info: Info[Context, None], id: strawberry.ID) -> Job:
        viewer = info.context.require_viewer()
        job = await info.context.session.get(models.Job, str(id))
        if job is None or not (viewer.is_admin or job.created_by_id == viewer.user_id):
            raise not_found("Job", id)
        return Job.from_row(job)


@strawberry.type
class TerritoriesMutation:
    @strawberry.mutation(description="Start a what-if proposal (design or realignment) as a job.")
    async def propose_alignment(
        self, info: Info[Context, None], params: ProposeAlignmentInput
    ) -> Job:
        ctx = info.context
        viewer = ctx.require_viewer()
        team_id = parse_id(params.team_id, "params.teamId")
        team = await ctx.session.scalar(
            select(models.Team.id).where(models.Team.id == team_id, policy.teams_visible_to(viewer))
        )
        if team is None:
            raise not_found("Team", params.team_id)
        _require_manager(viewer, team_id)
        if params.mode not in ("design", "realign"):
            raise bad_input("params.mode", "mode must be 'design' or 'realign'")
        check_text(params.name, "params.name", MAX_NAME)
        proposal = ProposalParams(
            mode=params.mode,  # type: ignore[arg-type]
            name=params.name,
            tolerance=params.tolerance,
            potential_tolerance=params.potential_tolerance,
            max_moved_share=params.max_moved_share,
            max_moved_per_rep=params.max_moved_per_rep,
        )
        try:
            proposal.validate()
        except TerritoryServiceError as exc:
            raise _service_error(exc) from exc
        runtime = ctx.runtime
        net = await runtime.road_network()

        async def body(progress: Any) -> dict[str, Any]:
            async with runtime.sessionmaker() as session, session.begin():
                alignment = await propose_alignment(
                    session,
                    net,
                    team_id,
                    proposal,
                    created_by_id=viewer.user_id,
                    progress=progress,
                )
                return {"alignmentId": str(alignment.id), "kpis": alignment.kpis}

        job = await runtime.jobs.submit(
            "propose_alignment", {"teamId": team_id, "mode": params.mode}, viewer.user_id, body
        )
        return Job.from_row(job)

    @strawberry.mutation(description="Schedule a draft for a date (activates now if due).")
    async def commit_alignment(
        self, info: Info[Context, None], id: strawberry.ID, effective_date: dt.date
    ) -> Alignment:
        ctx = info.context
        viewer = ctx.require_viewer()
        alignment = await _alignment(ctx, viewer, id)
        _require_manager(viewer, alignment.team_id)
        try:
            await commit_alignment(ctx.session, alignment, effective_date, ctx.runtime.today())
        except TerritoryServiceError as exc:
            raise _service_error(exc) from exc
        await ctx.session.commit()
        ctx.runtime.wake_relay()
        return Alignment.from_row(alignment)

    @strawberry.mutation(description="Hand edits on a draft, with the same balance validation.")
    async def reassign_accounts(
        self,
        info: Info[Context, None],
        alignment_id: strawberry.ID,
        moves: list[AccountMoveInput],
        note: str | None = None,
        allow_imbalance: bool = False,
        tolerance: float = 0.05,
    ) -> Alignment:
        ctx = info.context
        viewer = ctx.require_viewer()
        alignment = await _alignment(ctx, viewer, alignment_id, "alignmentId")
        _require_manager(viewer, alignment.team_id)
        if not moves:
            raise bad_input("moves", "give at least one move")
        if len(moves) > MAX_MOVES:
            raise bad_input("moves", f"at most {MAX_MOVES} moves per call, got {len(moves)}")
        check_text(note, "note", MAX_NOTE)
        if not 0 < tolerance <= 1:
            raise bad_input("tolerance", "tolerance must be a share in (0, 1]")
        pairs = [
            (
                parse_id(m.account_id, f"moves[{i}].accountId"),
                parse_id(m.rep_id, f"moves[{i}].repId"),
            )
            for i, m in enumerate(moves)
        ]
        try:
            await reassign_accounts(
                ctx.session,
                alignment,
                pairs,
                note=note,
                tolerance=tolerance,
                allow_imbalance=allow_imbalance,
            )
        except TerritoryServiceError as exc:
            await ctx.session.rollback()
            raise _service_error(exc) from exc
        await ctx.session.commit()
        return Alignment.from_row(alignment)
