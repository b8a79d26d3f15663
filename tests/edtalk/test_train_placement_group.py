"""edtalk.train_placement_group: the placement groups a dead Ray Train controller leaves behind are
found and freed; the driver's and a live actor's are kept."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A private instance of 2 CPUs: a group the driver made (as Tune makes a trial's), one made by a live
# actor and one by an actor then killed (as a trial's Ray Train controller dies with its trial).
THREE_GROUPS = textwrap.dedent(
    """
    import json
    import os
    import signal
    import time

    import ray
    from ray.util.placement_group import placement_group, placement_group_table

    from edtalk.ray_setup import start_ray
    from edtalk.train_placement_group import free_orphaned_placement_groups, orphaned_placement_groups

    start_ray(None, num_cpus=2)
    drivers = placement_group([{"CPU": 0.5}])
    ray.get(drivers.ready())

    @ray.remote(num_cpus=0)
    class Controller:
        def pid(self):
            return os.getpid()

        def reserve(self, cpus):
            self.group = placement_group([{"CPU": cpus}])
            ray.get(self.group.ready())
            return self.group.id.hex()

    live, dying = Controller.remote(), Controller.remote()
    live_id, dead_id = ray.get([live.reserve.remote(0.5), dying.reserve.remote(1.0)])
    os.kill(ray.get(dying.pid.remote()), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not orphaned_placement_groups() and time.monotonic() < deadline:
        time.sleep(0.2)  # Ray marks the creator dead a moment after the kill
    orphans = [g.hex() for g in orphaned_placement_groups()]
    freed, again = free_orphaned_placement_groups(), free_orphaned_placement_groups()
    while ray.available_resources().get("CPU", 0) < 1.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    table = placement_group_table()
    print(json.dumps({
        "orphans": orphans, "dead": dead_id, "freed": freed, "again": again,
        "cpu_free": ray.available_resources().get("CPU", 0),
        "kept": [table[g]["state"] for g in (drivers.id.hex(), live_id)],
    }))
    """
)


@pytest.mark.ray
def test_only_the_group_of_a_dead_actor_is_freed():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run(
        [sys.executable, "-c", THREE_GROUPS], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["orphans"] == [got["dead"]]
    assert (got["freed"], got["again"]) == (1, 0)
    assert got["cpu_free"] == pytest.approx(1.0)  # 2 CPUs less the driver's and the live actor's halves
    assert got["kept"] == ["CREATED", "CREATED"]
