import sys

from moglow.cli import main

sys.exit(main())
