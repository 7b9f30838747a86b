"""What one instance can report at a memory size, and whether a plan's rate cap and batch size hold there.

The figures are deploy/sizing.json's (measured by `make bench` under a CPU quota standing for each memory
size); between two measured sizes the smaller one's figure is used, so the estimate never flatters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

SIZING = Path(__file__).resolve().parent.parent / "deploy" / "sizing.json"


class Sizing(NamedTuple):
    memory_mb: int
    capacity_rps: int  # records per second one instance reports at this memory
    cap_rps: int  # SMS_MAX_RPS
    instances: int
    batch: int | None  # the CKafka trigger's MaxMsgNum, if any
    timeout_s: int

    @property
    def rate(self) -> int:
        """What one instance really reaches: its cap or its capacity, whichever is lower."""
        return min(self.capacity_rps, self.cap_rps)

    def note(self) -> str:
        line = (
            f"sizing: about {self.capacity_rps} records/s per {self.memory_mb} MB instance (deploy/sizing.json), "
            f"rate cap SMS_MAX_RPS={self.cap_rps}; {self.instances} instances reach about "
            f"{self.instances * self.rate} records/s"
        )
        if self.batch:
            line += f"; a full CKafka batch of {self.batch} takes about {self.batch / self.rate:.0f} s"
        return line

    def warnings(self) -> list[str]:
        found = []
        if self.cap_rps > self.capacity_rps:
            found.append(
                f"SMS_MAX_RPS={self.cap_rps} is above the ~{self.capacity_rps} records/s one {self.memory_mb} MB "
                "instance can report: the cap is never reached (raise MemorySize, or lower SMS_MAX_RPS)"
            )
        if self.batch and self.batch / self.rate > self.timeout_s * 0.8:
            found.append(
                f"a full CKafka batch of {self.batch} needs about {self.batch / self.rate:.0f} s, over 80% of the "
                f"{self.timeout_s} s timeout: lower MaxMsgNum or raise Timeout (each redelivery re-sends only what "
                "is left, but the partition waits)"
            )
        return found


def capacity_rps(memory_mb: int, path: Path = SIZING) -> int:
    table = {int(size): int(rate) for size, rate in json.loads(path.read_text())["records_per_second"].items()}
    below = [size for size in table if size <= memory_mb]
    return table[max(below)] if below else max(1, table[min(table)] * memory_mb // min(table))
