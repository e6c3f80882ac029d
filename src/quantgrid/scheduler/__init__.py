"""The scheduler for recurring jobs: prediction cycles, evaluations, drift checks, retraining.

``ExchangeCalendar`` says when a market trades (``XNYS``, ``ALWAYS_OPEN``); a schedule
(``Every``, ``Daily``, ``DuringSession``, ``AtSessionOpen``, ``AtSessionClose``) maps time
to the slots a job is due at; a ``RecurringJob`` pairs a schedule with an async action;
the ``Scheduler`` runs each slot at most once, claimed through a ``JobRunStore``, so
restarts and several processes sharing the store never run a slot twice.
"""

from quantgrid.scheduler._calendar import EVERY_DAY, MON_TO_FRI, ExchangeCalendar, Session
from quantgrid.scheduler._exchanges import ALWAYS_OPEN, XNYS
from quantgrid.scheduler._jobs import (
    CatchUp,
    JobAction,
    JobRunEnded,
    JobSlotsSkipped,
    RecurringJob,
    SchedulerEvent,
)
from quantgrid.scheduler._scheduler import ABANDONED_AT_START, ABANDONED_AT_STOP, Scheduler
from quantgrid.scheduler._schedules import (
    AtSessionClose,
    AtSessionOpen,
    Daily,
    DuringSession,
    Every,
    Schedule,
)

__all__ = [
    "ABANDONED_AT_START",
    "ABANDONED_AT_STOP",
    "ALWAYS_OPEN",
    "EVERY_DAY",
    "MON_TO_FRI",
    "XNYS",
    "AtSessionClose",
    "AtSessionOpen",
    "CatchUp",
    "Daily",
    "DuringSession",
    "Every",
    "ExchangeCalendar",
    "JobAction",
    "JobRunEnded",
    "JobSlotsSkipped",
    "RecurringJob",
    "Schedule",
    "Scheduler",
    "SchedulerEvent",
    "Session",
]
