"""sweeps.tuner: what a sweep's driver prints of Tune's own logging."""

import pytest

from tests.sweeps.test_placement_groups import run_script

# A one-trial Tune run whose config holds a tuple, as a sweep variant's stages; argv[2] "quiet" to
# call the sweeps' quiet_tensorboard_hparams_note first.
TUPLE_CONFIG_TRIAL = """
import json
import sys

from ray import tune

from edtalk.ray_setup import start_ray
from sweeps.tuner import quiet_tensorboard_hparams_note

start_ray(None, num_cpus=1)
if sys.argv[2] == "quiet":
    quiet_tensorboard_hparams_note()

def trial(config):
    tune.report({"psnr": 20.0})

grid = tune.Tuner(
    trial,
    param_space={"variant": tune.grid_search([{"stages": ("mouth_pose", "expression")}])},
    run_config=tune.RunConfig(storage_path=sys.argv[1]),  # the sweeps' verbosity
).fit()
print(json.dumps([r.metrics.get("psnr") for r in grid]))
"""


@pytest.mark.ray
@pytest.mark.parametrize("mode, printed", [("quiet", False), ("as_tune_has_it", True)])
def test_tunes_tensorboard_note_of_the_variants_tuples_is_not_printed_per_trial(tmp_path, mode, printed):
    """Each trial printed an INFO line "Removed the following hyperparameter values when logging to
    tensorboard: {'variant/stages': ('mouth_pose', 'expression'), ...}"."""
    scores, err = run_script(TUPLE_CONFIG_TRIAL, str(tmp_path / mode), mode)
    assert scores == [20.0], err[-3000:]
    assert ("Removed the following hyperparameter values" in err) is printed, err[-3000:]
