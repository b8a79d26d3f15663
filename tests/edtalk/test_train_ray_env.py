"""edtalk.train_run.set_env_defaults: the environment every command sets up before Ray starts."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ray_train_v1_set_by_the_environment_is_turned_back_to_v2_with_a_note():
    """RAY_TRAIN_V2_ENABLED=0 in the shell (another project's setting) made every stage fail with an
    ImportError of Ray Train's LoggingConfig from the middle of the run. Ray reads it at the first
    import of ray.train, hence a fresh process."""
    code = (
        "from edtalk.train_run import set_env_defaults, stage_run_config, worker_env\n"
        "from pathlib import Path\n"
        "set_env_defaults()\n"
        "stage_run_config(Path('unused'), 'stage')\n"
        "print(worker_env()['RAY_TRAIN_V2_ENABLED'])\n"
    )
    env = {**os.environ, "RAY_TRAIN_V2_ENABLED": "0"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "1"  # the Ray workers get V2 too
    assert "RAY_TRAIN_V2_ENABLED=0 ignored" in proc.stderr
