"""Local emulators (never deployed): the SMS API, and the control-plane APIs `make deploy` calls."""

from .server import PERMANENT_KEY, TEMPORARY_KEY, Account, Fault, SmsEmulator
from .signing import KeyPair

__all__ = ["PERMANENT_KEY", "TEMPORARY_KEY", "Account", "Fault", "KeyPair", "SmsEmulator"]
