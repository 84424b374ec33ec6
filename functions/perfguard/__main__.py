"""`python -m perfguard` runs the `perfguard` command."""

from perfguard.cli import main

raise SystemExit(main())
