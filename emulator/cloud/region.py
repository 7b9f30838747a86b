"""The region service: where SCF is served."""

from __future__ import annotations

from typing import Any

from emulator.cloud.state import (
    SCF_REGIONS,
    State,
)
from emulator.signing import ApiError


class Region(State):
    def _region_DescribeRegions(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("Product") != "scf":
            raise ApiError("InvalidParameterValue", "this stand-in lists SCF's regions only")
        regions = [{"Region": name, "RegionName": name, "RegionState": "AVAILABLE"} for name in SCF_REGIONS]
        return {"TotalCount": len(regions), "RegionSet": regions}
