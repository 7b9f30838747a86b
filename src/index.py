"""SCF entry point (handler string `index.main_handler`): wiring only.

The Application lives at module level so a warm instance keeps its SDK
clients, connections, rate window and in-memory idempotency records.
"""

import os
from typing import Any

# pydantic looks for plugins in every installed distribution's entry points when it builds the first
# model (~20 ms of cold start in a virtual environment); this function uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# Imported before anything loads pydantic: urllib3 compiles its URL regexes
# ~17 ms slower once pydantic is in memory (measured with -X importtime), and
# this order is the only difference. Cold start is paid on every new instance.
import tencentcloud.sms.v20210111.sms_client  # noqa: F401  isort: skip

from sms_conversion.handler import Application

application = Application()


def main_handler(event: Any, context: Any) -> Any:
    return application.handle(event, context)
