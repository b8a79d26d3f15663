"""edtalk.train_run.set_env_defaults and require_ray_train_v2: the environment every command (training,
sweeps) sets up before Ray starts."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_with_v2_off(code: str) -> str:
    """Run ``code`` in a fresh Python (Ray reads RAY_TRAIN_V2_ENABLED at the first import of ray.train)
    whose environment turns Ray Train V2 off; checks it printed the note; its stdout."""
    env = {**os.environ, "RAY_TRAIN_V2_ENABLED": "0"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RAY_TRAIN_V2_ENABLED=0 ignored" in proc.stderr
    return proc.stdout


def test_ray_train_v1_set_by_the_environment_is_turned_back_to_v2_with_a_note():
    """RAY_TRAIN_V2_ENABLED=0 in the shell (another project's setting) made every stage fail with an
    ImportError of Ray Train's LoggingConfig from the middle of the run."""
    out = run_with_v2_off(
        "from edtalk.train_run import set_env_defaults, stage_run_config, worker_env\n"
        "from pathlib import Path\n"
        "set_env_defaults()\n"
        "stage_run_config(Path('unused'), 'stage')\n"
        "print(worker_env()['RAY_TRAIN_V2_ENABLED'])\n"
    )
    assert out.strip() == "1"  # the Ray workers get V2 too


def test_a_sweep_turns_v2_back_on_before_its_first_ray_import():
    """The sweep driver imports Ray Tune, which imports ray.train, before Ray starts, and trains the
    parent chain itself when it is missing: turned back on only when Ray started, its first stage
    failed with the ImportError all the same."""
    run_with_v2_off(
        "import sys\n"
        "from pathlib import Path\n"
        "from sweeps import bank_size, checks, tuner\n"
        "from sweeps.cli import build_parser, smoke_defaults\n"
        "def first_check(args):\n"
        "    from ray import tune  # the sweep's first Ray import\n"
        "    from edtalk.train_run import stage_run_config\n"
        "    stage_run_config(Path('unused'), 'stage')  # as the parent run's first stage\n"
        "    sys.exit(0)\n"
        "checks.check_inputs = first_check\n"
        "args = smoke_defaults(build_parser('x', 'y').parse_args(['--root', 'unused']))\n"
        "tuner.run_sweep(args, bank_size.variants({'mouth': [5]}), 'bank_size')\n"
    )
