"""sweeps.worker_bars: a failed trial's dead training workers leave no bar on the sweep's screen."""

import os
import pickle

from tests.edtalk.test_train import bar_state, bars_of_a_gone_and_a_live_worker


def test_after_a_trial_failed_its_gone_workers_bar_is_taken_down(monkeypatch):
    """A worker killed mid-stage never closed its bar, which the sweep's driver redrew after every
    later line to the end of the sweep; a live worker's bar stays."""
    from sweeps.worker_bars import DropDeadWorkersBars

    manager, gone = bars_of_a_gone_and_a_live_worker(monkeypatch)
    callback = DropDeadWorkersBars(every_s=0.0)
    callback.on_step_begin(iteration=0, trials=[])  # no trial failed: nothing is looked at
    assert {k[1]: len(g.bars_by_uuid) for k, g in manager.bar_groups.items()} == {gone: 1, os.getpid(): 1}
    callback.on_trial_recover(iteration=1, trials=[], trial=None)  # failed, started again
    manager.process_state_update(bar_state(manager.ip, gone, "old", x=5))  # late: ignored
    assert {k[1]: len(g.bars_by_uuid) for k, g in manager.bar_groups.items()} == {gone: 0, os.getpid(): 1}


def test_the_bars_are_looked_at_for_a_while_after_a_failure_only(monkeypatch):
    """A dead trial's workers end a moment after Tune hears of its failure."""
    import edtalk.train_failures as failures
    from sweeps.worker_bars import DropDeadWorkersBars

    calls = []
    monkeypatch.setattr(failures, "drop_bars_of_gone_workers", lambda: calls.append(1))
    callback = DropDeadWorkersBars(watch_s=3600.0, every_s=0.0)
    callback.on_step_begin(iteration=0, trials=[])
    assert calls == []
    callback.on_trial_error(iteration=1, trials=[], trial=None)
    callback.on_step_begin(iteration=2, trials=[])
    assert len(calls) == 2
    restored = pickle.loads(pickle.dumps(callback))  # as --resume loads it from tuner.pkl
    restored.on_step_begin(iteration=3, trials=[])
    assert len(calls) == 2  # the resumed sweep watches nothing until a trial fails
    callback = DropDeadWorkersBars(watch_s=0.0, every_s=0.0)
    callback.on_trial_error(iteration=1, trials=[], trial=None)
    callback.on_step_begin(iteration=2, trials=[])  # the while is over
    assert len(calls) == 3


def test_an_error_taking_the_bars_down_does_not_stop_the_sweep(monkeypatch, capsys):
    """Tune ends every trial for an exception a callback raises; the bars use Ray's private API. One
    warning names what failed."""
    import edtalk.train_failures as failures
    from sweeps.worker_bars import DropDeadWorkersBars

    def broken():
        raise AttributeError("_BarManager has no attribute 'bar_groups'")

    monkeypatch.setattr(failures, "drop_bars_of_gone_workers", broken)
    callback = DropDeadWorkersBars(every_s=0.0)
    callback.on_trial_error(iteration=1, trials=[], trial=None)
    callback.on_step_begin(iteration=2, trials=[])
    callback.on_trial_recover(iteration=3, trials=[], trial=None)
    err = capsys.readouterr().err
    assert err.count("could not take down the progress bars") == 1 and "bar_groups" in err
