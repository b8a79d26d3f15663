"""Say when Tune starts a failed trial again (``--max-failures``): Tune's own lines call it "errored",
print its traceback and then its config box again, and only the end-of-sweep table says it was
retried.

Tune pickles the callback by its import path into the sweep's ``tuner.pkl`` for ``--resume``: keep
this class's name and module.
"""

from __future__ import annotations

import sys

from ray import tune


class NoteRetries(tune.Callback):
    """Tune callback: a note on stderr each time a failed trial is started again."""

    def on_trial_recover(self, iteration: int, trials: list, trial, **info) -> None:
        from sweeps.export import variant_and_seed

        failures = trial.run_metadata.num_failures
        print(
            f"note: trial {variant_and_seed(trial.config)} ({trial}) failed; Tune starts it again "
            f"(failure {failures} of at most {trial.max_failures}, --max-failures), keeping the stages "
            "it finished",
            file=sys.stderr,
        )
