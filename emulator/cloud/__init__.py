"""The control-plane stand-in `make deploy`'s tests and `make rehearse` run against (standin.py)."""

from emulator.cloud.standin import CloudStandIn, StandInDefect
from emulator.cloud.state import DEFAULT_REGION, PAGE_LIMIT, SCF_REGIONS

__all__ = ["DEFAULT_REGION", "PAGE_LIMIT", "SCF_REGIONS", "CloudStandIn", "StandInDefect"]
