import sys

from scenarios.machinery.cli import main

sys.exit(main())
