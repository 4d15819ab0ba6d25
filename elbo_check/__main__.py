"""``python -m elbo_check`` runs the command-line interface."""

from elbo_check.cli import main

raise SystemExit(main())
