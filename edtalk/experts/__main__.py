"""``python -m edtalk.experts train --data DIR --split train|judge --out DIR``."""

from edtalk.experts.train import main

raise SystemExit(main())
