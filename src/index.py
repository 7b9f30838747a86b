"""SCF entry point (handler string `index.main_handler`): wiring only.

The Application lives at module level so a warm instance keeps its SDK
clients, connections, rate window and in-memory idempotency records.
"""

from typing import Any

from sms_conversion.handler import Application

application = Application()


def main_handler(event: Any, context: Any) -> Any:
    return application.handle(event, context)
