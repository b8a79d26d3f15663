"""``python -m eval.proof``: the proof's command line (``eval.proof.main``)."""

from edtalk.cli import run_main
from eval.proof import main

run_main(main)
