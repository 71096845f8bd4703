"""(h) A trigger that fires at once with an event that carries XComs.

Only the task-ending events (``TaskSuccessEvent`` and friends, ``BaseTaskEndEvent``) have an
``xcoms`` field in Airflow 3.3: ``TriggerEvent(payload, xcoms=...)`` is accepted but pydantic drops
the unknown keyword silently, so this trigger yields ``TaskSuccessEvent(xcoms=...)``.
"""

from __future__ import annotations

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent


class ImmediateXComTrigger(BaseTrigger):
    def __init__(self, xcoms: dict):
        super().__init__()
        self.xcoms = xcoms

    def serialize(self):
        return ("fidelity_triggers.ImmediateXComTrigger", {"xcoms": self.xcoms})

    async def run(self):
        yield TaskSuccessEvent(xcoms=self.xcoms)
