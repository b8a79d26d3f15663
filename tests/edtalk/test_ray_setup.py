"""edtalk.ray_setup: the local-Ray worker hook that silences Ray Train's placement-group cleaner, and
the --address check."""

import importlib
import logging
import socket
import threading

import pytest

from edtalk.ray_setup import (
    PLACEMENT_GROUP_CLEANER_LOGGER,
    ClusterAddressError,
    check_cluster_address,
    local_runtime_env,
    quiet_placement_group_cleaner,
)


def test_logger_is_the_cleaner_module_of_the_installed_ray():
    module = importlib.import_module(PLACEMENT_GROUP_CLEANER_LOGGER)  # a Ray upgrade that moves it fails here
    assert hasattr(module, "PlacementGroupCleaner")
    assert module.logger.name == PLACEMENT_GROUP_CLEANER_LOGGER


def test_hook_keeps_errors_and_drops_warnings():
    logger = logging.getLogger(PLACEMENT_GROUP_CLEANER_LOGGER)
    before = logger.level
    try:
        quiet_placement_group_cleaner()
        assert not logger.isEnabledFor(logging.WARNING)
        assert logger.isEnabledFor(logging.ERROR)
    finally:
        logger.setLevel(before)


def test_runtime_env_names_an_importable_hook_and_keeps_env_vars():
    env = local_runtime_env({"DS_ACCELERATOR": "cpu"})
    module_name, _, func_name = env["worker_process_setup_hook"].rpartition(".")
    assert getattr(importlib.import_module(module_name), func_name) is quiet_placement_group_cleaner
    assert env["env_vars"] == {"DS_ACCELERATOR": "cpu"}
    assert "env_vars" not in local_runtime_env()


# -- check_cluster_address: a wrong --address is refused in seconds, not retried for minutes --------


def _serve_once(reply: bytes):
    """A local TCP server that answers its first connection with ``reply``; returns (port, thread)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        with server, server.accept()[0] as conn:
            conn.recv(64)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return port, thread


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def test_an_address_nothing_listens_at_is_refused():
    port = _closed_port()
    with pytest.raises(
        ClusterAddressError, match=rf"no Ray cluster answers at 127\.0\.0\.1:{port}.*ray start --head"
    ):
        check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(ClusterAddressError, match=rf"127\.0\.0\.1:{port} "):
        check_cluster_address(f"ray://127.0.0.1:{port}", timeout_s=2)


def test_a_server_that_is_not_grpc_is_refused_and_a_grpc_one_accepted():
    port, thread = _serve_once(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # the dashboard's kind of answer
    with pytest.raises(ClusterAddressError, match="not Ray's GCS or Ray Client"):
        check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    thread.join(5)
    settings_frame = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # what a gRPC server sends first
    port, thread = _serve_once(settings_frame)
    check_cluster_address(f"127.0.0.1:{port}", timeout_s=2)
    thread.join(5)


@pytest.mark.parametrize(
    "address, message",
    [
        ("http://127.0.0.1:8265", "dashboard .job submission. URL"),
        (":6379", "not host:port"),
        ("head:port", "not host:port"),
        ("head", "not host:port"),
    ],
)
def test_addresses_that_are_not_a_ray_address(address, message):
    with pytest.raises(ClusterAddressError, match=message):
        check_cluster_address(address, timeout_s=2)


def test_auto_and_local_are_left_to_ray():
    check_cluster_address("auto")
    check_cluster_address("local")


@pytest.mark.parametrize(
    "module, argv",
    [
        ("edtalk.train", ["--stage", "eg_pretrain", "--data", "synthtalk:nowhere"]),
        ("eval.run", ["--dataset", "synthtalk", "--root", "nowhere", "--method", "static"]),
        ("sweeps.bank_size", ["--smoke-test", "--root", "nowhere"]),
    ],
)
def test_training_scoring_and_sweeps_check_the_address_before_any_work(module, argv, tmp_path, capsys):
    """Before: `--address 127.0.0.1:1` left each of them waiting on Ray's GCS retries (over 5 min)."""
    import ray

    port = _closed_port()
    cli = importlib.import_module(module)
    assert cli.main([*argv, "--out", str(tmp_path / "out"), "--address", f"127.0.0.1:{port}"]) == 2
    assert f"error: --address 127.0.0.1:{port}: no Ray cluster answers" in capsys.readouterr().err
    assert not ray.is_initialized() and not (tmp_path / "out").exists()
