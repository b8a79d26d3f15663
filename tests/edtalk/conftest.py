"""Inputs shared by the inference tests (test_infer.py, test_infer_review.py) and the in-process
training tests (test_train.py, test_parent_config.py)."""

import os

import numpy as np
import pytest


@pytest.fixture(scope="session")
def face_crop() -> np.ndarray:
    """A 128 px square face crop (dlib's HOG detector finds the face)."""
    import skimage.data
    from PIL import Image

    return np.asarray(Image.fromarray(skimage.data.astronaut()[:400, 60:460]).resize((128, 128)))


@pytest.fixture(scope="session")
def noisy_faces(face_crop):
    """``noisy_faces(rng, n)``: ``n`` frames of the face crop, each with its own noise: driving videos
    that change from frame to frame and still pass the face check on driving videos."""

    def make(rng: np.random.Generator, n: int) -> np.ndarray:
        noise = rng.integers(-20, 21, (n, 128, 128, 3))
        return np.clip(face_crop[None].astype(int) + noise, 0, 255).astype(np.uint8)

    return make


@pytest.fixture(scope="session")
def training_fixture(tmp_path_factory):
    """A synthtalk-shaped fixture, its frame cache and loss experts trained on its train split."""
    from edtalk.config import ModelConfig
    from edtalk.experts.testing import make_training_fixture

    root = tmp_path_factory.mktemp("train")
    cfg = ModelConfig.preset("tiny")
    data, cache, _ = make_training_fixture(root, cfg.image_size)
    return {"root": root, "data": data, "cache": cache, "model": cfg}


@pytest.fixture(scope="module")
def single_process_group():
    """The environment of a one-process torch.distributed group (DeepSpeed needs one), per module."""
    from edtalk.worker_devices import world_of_one_env

    env = {**world_of_one_env(), "DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def sigterm_after_first_line():
    """``run(body)``: run ``body``, the inside of a ``try`` in a command's main() (edtalk.cli.run_main),
    as a subprocess; its first line printed (inside the try: a SIGTERM before it would escape) is the
    cue to send SIGTERM. The ``except KeyboardInterrupt`` prints 'interrupted' and returns 130.
    Returns (first line, exit status, the rest of its output)."""
    import signal
    import subprocess
    import sys
    import textwrap

    def run(body: str, prelude: str = "", timeout: float = 60) -> tuple[str, int, str]:
        script = (
            "from edtalk.cli import run_main\n"
            "def main():\n"
            + textwrap.indent(textwrap.dedent(prelude), "    ")
            + "    try:\n"
            + textwrap.indent(textwrap.dedent(body), "        ")
            + "    except KeyboardInterrupt:\n        print('interrupted')\n        return 130\n"
            "run_main(main)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            first = proc.stdout.readline()
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=timeout)
            return first, status, proc.stdout.read()
        finally:
            proc.kill()
            proc.wait()

    return run
