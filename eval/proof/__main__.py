"""``python -m eval.proof``: the proof's command line (``eval.proof.main``)."""

from eval.proof import main

raise SystemExit(main())
