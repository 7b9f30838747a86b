import sys

from local.backfill.runner import main

sys.exit(main())
