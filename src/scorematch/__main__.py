"""``python -m scorematch``: the ``scorematch`` command."""

from .cli import main

raise SystemExit(main())
