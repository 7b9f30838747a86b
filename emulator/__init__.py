"""Local SMS API emulator (never deployed)."""

from .server import PERMANENT_KEY, TEMPORARY_KEY, Account, Fault, KeyPair, SmsEmulator

__all__ = ["PERMANENT_KEY", "TEMPORARY_KEY", "Account", "Fault", "KeyPair", "SmsEmulator"]
