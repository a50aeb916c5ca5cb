"""The Ray executor, for real: two evaluations as Ray tasks on a small local Ray instance."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import harness_env, journal_events, write_library

from harness.batch.jobs import select_manifests
from harness.batch.progress import QuietDisplay
from harness.batch.ray_executor import RayExecutor, gpu_request
from harness.batch.runner import BatchOptions, run_batch
from harness.config import load_settings
from harness.store import load_record

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture
def local_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for slug, accuracy in (("ray-a", 0.81), ("ray-b", 0.82)):
        write_library(tmp_path / "manifests", tmp_path / "wheels", slug, accuracy=accuracy, sleep_s=0.5)
    for key, value in harness_env(tmp_path).items():
        monkeypatch.setenv(key, value)  # before ray.init: Ray's workers inherit the environment
    short = tempfile.mkdtemp(prefix="ray")  # Ray's socket paths must stay under 108 bytes
    ray.init(num_cpus=2, num_gpus=0, object_store_memory=80 * 1024**2, include_dashboard=False,
             log_to_driver=False, _temp_dir=short)
    try:
        yield tmp_path
    finally:
        ray.shutdown()
        shutil.rmtree(short, ignore_errors=True)


def test_two_evaluations_as_ray_tasks(local_ray: Path) -> None:
    root = local_ray
    settings = load_settings()
    manifests = select_manifests(settings, libs=["ray-a", "ray-b"])
    assert ray.available_resources()["CPU"] == 2.0
    result = run_batch(manifests, BatchOptions(repeats=2), settings, RayExecutor(), QuietDisplay())

    # the driver stored both records (the tasks only returned them) under its results dir
    assert len(result.stored) == 2
    records = {load_record(p).library: load_record(p) for p in (root / "results").glob("*.json")}
    assert set(records) == {"ray-a", "ray-b"}
    for slug, accuracy in (("ray-a", 0.81), ("ray-b", 0.82)):
        record = records[slug]
        assert record.run_id == result.run_id
        assert [s.status for s in record.stages] == ["passed"] * 5
        assert [r.metrics for r in record.experiments[0].repeats] == [{"accuracy": accuracy}] * 2
    finished = {e["job_id"]: e["record"] for e in journal_events(root / "results", result.run_id)
                if e["event"] == "finished"}
    assert finished == {jid: path.name for jid, path in result.stored.items()}
    # the tasks' resource requests are released: the whole instance is free again (Ray reports it lazily)
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU") != 2.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU") == 2.0


def test_gpu_request_is_whole_or_a_declared_share() -> None:
    from harness.batch.jobs import Job, Resources

    def job(gpus: int, need: int | None) -> Job:
        return Job("j", "lib", "venv", "gpu" if gpus else "cpu", "default",
                   Resources(gpus=gpus, gpu_memory_bytes=need))

    assert gpu_request(job(0, None), [16 * 1024**3]) == 0.0
    assert gpu_request(job(1, None), [16 * 1024**3]) == 1.0
    assert gpu_request(job(1, 4 * 1024**3), [16 * 1024**3, 80 * 1024**3]) == 0.25
    assert gpu_request(job(1, 4 * 1024**3), []) == 1.0  # no GPU known here: ask for a whole one
