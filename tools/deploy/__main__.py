"""`python -m tools.deploy apply|destroy`: the command line (tools/deploy/cli.py)."""

import sys

from tools.deploy.cli import main

sys.exit(main())
