"""``python -m edtalk.experts train --data DIR --split train|judge --out DIR``."""

from edtalk.cli import run_main
from edtalk.experts.cli import main

run_main(main)
