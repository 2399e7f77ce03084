import sys

from seg.cli import main

sys.exit(main())
