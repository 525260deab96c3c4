"""`python -m monitor`: the same as the `kamerwacht` command."""

import sys

from monitor.cli import main

sys.exit(main())
