import sys

from hubspot_app.ops.cli import main

sys.exit(main())
