"""Each `hds demo` owns its data directory: a second one on the same directory (or port) refuses and touches nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.broker import free_port
from catalog.cli.data_dir_lock import DataDirInUse, DataDirLock

HDS = [sys.executable, "-m", "catalog.cli.main"]
ENV = {**os.environ, "HDS_KAFKA_BOOTSTRAP": "", "HDS_ENV": "development"}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _wait(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.integration
@pytest.mark.slow
def test_given_a_running_demo_then_a_second_on_its_directory_refuses_and_touches_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = subprocess.Popen([*HDS, "demo", "--data-dir", str(data), "--port", str(free_port())], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # the first demo is past its lock and has laid out its files (broker and gateway started)
        assert _wait(lambda: (data / "demo" / "gateway.log").exists() or first.poll() is not None, 120)
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        (data / "demo" / "planted.txt").write_text("the first demo's file")
        before = _snapshot(data)
        second = subprocess.run([*HDS, "demo", "--data-dir", str(data), "--port", str(free_port())], env=ENV,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert "in use by another hds demo" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        after = _snapshot(data)
        # the first demo keeps writing its logs; what matters is that no file of it was deleted or replaced
        assert {k: ino for k, (ino, _) in before.items()} == {k: after[k][0] for k in before if k in after}
        assert set(before) <= set(after)
        assert after["demo/planted.txt"] == before["demo/planted.txt"]
        assert first.poll() is None  # and the first demo still runs
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()


def test_given_the_demo_port_is_taken_then_demo_refuses_before_deleting_anything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "demo").mkdir(parents=True)
    kept = data / "demo" / "catalog.duckdb"
    kept.write_bytes(b"an earlier run's catalog")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*HDS, "demo", "--data-dir", str(data), "--port", str(port)], env=ENV,
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and f"port {port}" in out.stderr and "Traceback" not in out.stderr
    assert kept.read_bytes() == b"an earlier run's catalog"


def test_given_a_lock_holder_killed_then_the_kernel_frees_the_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from catalog.cli.data_dir_lock import DataDirLock; "
        f"lock = DataDirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirInUse, match=f"pid {holder.pid}"):
            DataDirLock(tmp_path).acquire()
        holder.kill()  # SIGKILL: no clean-up runs, the lock file stays behind
        holder.wait()
        with DataDirLock(tmp_path) as lock:
            assert lock.path.read_text().strip() == str(os.getpid())
    finally:
        if holder.poll() is None:
            holder.kill()
