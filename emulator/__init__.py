"""Local SMS API emulator (never deployed)."""

from .server import PERMANENT_KEY, TEMPORARY_KEY, Fault, KeyPair, SmsEmulator

__all__ = ["PERMANENT_KEY", "TEMPORARY_KEY", "Fault", "KeyPair", "SmsEmulator"]
