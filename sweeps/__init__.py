"""Ray Tune sweeps of the paper's Tables 3 and 6: the scripts ``bank_size.py`` and ``ablations.py``,
run as ``python sweeps/<script>.py``, and what they share, one job per module:

- ``bootstrap``: the repo on ``sys.path``/``PYTHONPATH`` and the venv's Python (stdlib only);
- ``variant``: ``Variant``, one sweep point, and the driving modes;
- ``cli``: the shared options (``build_parser``, ``smoke_defaults``);
- ``checks``: inputs refused before Ray starts;
- ``parent_run``: the parent run the trials start from (checkpoints, graft, check, preparation);
- ``trial``: the Tune trainable ``trial`` (train, score, report);
- ``tuner``: ``run_sweep``: Ray, the Tuner (new or restored) and the summary;
- ``resume``: what ``--resume`` continues and refuses;
- ``export``: the trials' results files written for ``eval.report``;
- ``storage``: ``--storage`` as a folder or object storage;
- ``placement_groups``, ``worker_bars``, ``retries``: Tune callbacks for a trial that failed (the
  CPUs its stage held, its dead workers' progress bars, a note when ``--max-failures`` starts it
  again).
"""
