"""The backfill's ledger: what it reported, and where, committed as each answer arrives (SIGKILL-safe)."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sms_conversion.message import ConversionMessage
from sms_conversion.settings import Settings


@dataclass(frozen=True)
class Destination:
    """Where reports go: the same serial reported to the emulator is not reported to the real API."""

    endpoint: str
    region: str

    @classmethod
    def of(cls, settings: Settings) -> Destination:
        return cls(repr(settings.endpoint), settings.SMS_REGION)

    def __str__(self) -> str:
        return f"{self.endpoint} ({self.region})"


class Ledger:
    """What this backfill already reported, and where. Each report is committed as its answer arrives.

    SQLite in WAL mode with `synchronous=NORMAL`: a commit survives the process being killed (only a
    power loss can take the last ones back), and costs a write, not an fsync.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS reports (endpoint TEXT, region TEXT, app_id TEXT, serial_no TEXT,"
            " request_id TEXT, at REAL, PRIMARY KEY (endpoint, region, app_id, serial_no))"
        )

    def reported(self, destination: Destination, message: ConversionMessage) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM reports WHERE endpoint = ? AND region = ? AND app_id = ? AND serial_no = ?",
                (destination.endpoint, destination.region, message.SmsSdkAppId, message.SerialNo),
            ).fetchone()
        return row is not None

    def record(self, destination: Destination, message: ConversionMessage, request_id: str | None) -> None:
        row = (destination.endpoint, destination.region, message.SmsSdkAppId, message.SerialNo, request_id, time.time())
        with self._lock:  # autocommit: one transaction a report
            self._db.execute("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?)", row)

    def destinations(self) -> list[tuple[str, str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT endpoint, region, COUNT(*) FROM reports GROUP BY endpoint, region ORDER BY endpoint, region"
            ).fetchall()
        return [(str(endpoint), str(region), int(count)) for endpoint, region, count in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
