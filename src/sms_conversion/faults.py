"""Stop calling when the deployment is wrong: within an invocation, and for a short cool-down after it.

A deployment fault (see `classifier`) says nothing about the message and
everything about the function, its role or the account: every further call
would get the same answer. So the first one trips a `Breaker` for the rest of
the invocation (for one app id when the fault is app-level, for everything
when account-level), and what was not called is "not attempted", kept for
the platform's redelivery. The warm instance's `FaultMemory` keeps the fault
for `COOL_DOWN_SECONDS`: the next invocation first makes one probe call and
fans out only if it is not the same fault, so a redelivery storm does not
hammer the API; a probe that gets through clears it at once.
"""

from __future__ import annotations

import threading

from .classifier import Scope
from .clock import Clock
from .outcome import DeploymentFault

# Long enough that a redelivery storm (CKafka retries a failed batch at once) makes one call per
# invocation, short enough that a fixed role is noticed within half a minute.
COOL_DOWN_SECONDS = 30.0


class FaultMemory:
    """The deployment faults a warm instance saw lately, each until its cool-down ends."""

    def __init__(self, clock: Clock, cool_down_seconds: float = COOL_DOWN_SECONDS) -> None:
        self._clock = clock
        self.cool_down_seconds = cool_down_seconds
        self._account: tuple[DeploymentFault, float] | None = None
        self._apps: dict[str, tuple[DeploymentFault, float]] = {}
        self._lock = threading.Lock()

    def remember(self, fault: DeploymentFault) -> None:
        until = self._clock.monotonic() + self.cool_down_seconds
        with self._lock:
            if fault.scope is Scope.ACCOUNT:
                self._account = (fault, until)
            elif fault.app_id is not None:
                self._apps[fault.app_id] = (fault, until)

    def account_fault(self) -> DeploymentFault | None:
        with self._lock:
            self._account = self._live(self._account)
            return self._account[0] if self._account else None

    def app_fault(self, app_id: str) -> DeploymentFault | None:
        with self._lock:
            entry = self._live(self._apps.get(app_id))
            if entry is None:
                self._apps.pop(app_id, None)
            return entry[0] if entry else None

    def clear(self, scope: Scope, app_id: str | None = None) -> None:
        """A probe got through: what it stood for is fixed."""
        with self._lock:
            if scope is Scope.ACCOUNT:
                self._account = None
            elif app_id is not None:
                self._apps.pop(app_id, None)

    def _live(self, entry: tuple[DeploymentFault, float] | None) -> tuple[DeploymentFault, float] | None:
        if entry is not None and entry[1] > self._clock.monotonic():
            return entry
        return None


class Breaker:
    """One invocation's stop switch. Thread-safe: every worker asks it before each call."""

    def __init__(self, memory: FaultMemory) -> None:
        self._memory = memory
        self._account: DeploymentFault | None = None
        self._apps: dict[str, DeploymentFault] = {}
        self._lock = threading.Lock()
        # In the order they tripped: the first is the one the invocation reports.
        self.faults: list[DeploymentFault] = []

    def blocking(self, app_id: str) -> DeploymentFault | None:
        """The fault that stops calls for `app_id` in this invocation, if any."""
        with self._lock:
            return self._account or self._apps.get(app_id)

    def trip(self, fault: DeploymentFault) -> None:
        with self._lock:
            if fault.scope is Scope.ACCOUNT:
                if self._account is not None:
                    return
                self._account = fault
            else:
                assert fault.app_id is not None
                if fault.app_id in self._apps:
                    return
                self._apps[fault.app_id] = fault
            self.faults.append(fault)
        self._memory.remember(fault)
