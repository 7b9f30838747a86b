"""`make backfill`: report conversions that were missed (local only). The command is runner.py; reader.py
reads CSV and JSON Lines, replay.py the function's logs, ledger.py records what was reported, and where."""

from local.backfill.runner import main, pace, parser, run

__all__ = ["main", "pace", "parser", "run"]
