import sys

from nas_sepconv.cli import main

sys.exit(main())
