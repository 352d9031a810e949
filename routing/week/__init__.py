"""Multi-day visit planning: a rep's horizon of working days, every due visit on a good day.

Public API (plain dataclasses in and out; nothing from :mod:`backend`):

* Build a :class:`WeekProblem` (:class:`Rep`, :class:`Account` s with cadence, last visit,
  priority and opening hours, :class:`Appointment` s, :class:`Absence` s), a drive-time matrix
  with :func:`build_matrix`, and call :func:`plan_week` to get a :class:`WeekPlan`.
* :func:`replan_week` re-plans after a change, keeping started days and unchanged days, and
  reports the :class:`Churn`.
* :func:`plan_to_json` / :func:`plan_from_json` store the plan as a versioned document.
* :func:`plan_daily_baseline` plans each day on its own (today's day planner) for comparison.
"""

from routing.week.baseline import plan_daily_baseline
from routing.week.codec import FORMAT, plan_from_json, plan_to_json
from routing.week.matrix import WeekMatrix, build_matrix, locations
from routing.week.model import (
    DEFAULT_SPACING_SHARE,
    MAX_HORIZON_DAYS,
    Absence,
    Account,
    Appointment,
    Churn,
    DayEnds,
    DayPlan,
    PlannedStop,
    Point,
    Rep,
    Unscheduled,
    WeekPlan,
    WeekPlanError,
    WeekProblem,
    WorkDay,
)
from routing.week.plan import WeekParams, churn, plan_week, plan_week_on, replan_week
from routing.week.state import Weights

__all__ = [
    "DEFAULT_SPACING_SHARE",
    "FORMAT",
    "MAX_HORIZON_DAYS",
    "Absence",
    "Account",
    "Appointment",
    "Churn",
    "DayEnds",
    "DayPlan",
    "PlannedStop",
    "Point",
    "Rep",
    "Unscheduled",
    "WeekMatrix",
    "WeekParams",
    "WeekPlan",
    "WeekPlanError",
    "WeekProblem",
    "Weights",
    "WorkDay",
    "build_matrix",
    "churn",
    "locations",
    "plan_daily_baseline",
    "plan_from_json",
    "plan_to_json",
    "plan_week",
    "plan_week_on",
    "replan_week",
]
