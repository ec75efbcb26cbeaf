"""Entry point of ``python3 -m processing_core``."""

from processing_core.cli import main

raise SystemExit(main())
