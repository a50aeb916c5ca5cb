"""The batch's pure parts: job ids, the resource pool's admission rules, and the journal's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.batch.jobs import Job, Resources, job_id, make_job
from harness.batch.journal import Journal, journal_path, latest_journal, read_journal
from harness.batch.resources import GpuState, ResourcePool
from harness.config import Settings
from harness.errors import UsageError
from harness.manifest import parse_manifest

GIB = 1024**3


def _manifest(**resources: object) -> dict[str, object]:
    return {
        "slug": "lib", "name": "Lib", "families": ["adversarial"], "origin": "author",
        "taxonomy": {"security_properties": ["integrity"], "adversary_knowledge": ["white-box"],
                     "targets": ["model"]},
        "source": {"kind": "pypi", "repository": "o/lib", "package": "lib", "version": "1.0"},
        "resources": resources,
    }


def test_job_id_is_deterministic_and_covers_every_input() -> None:
    base = ("lib", "lib==1.0", "e" * 16, "venv", "cpu", "default")
    assert job_id(*base) == job_id(*base)
    assert len(job_id(*base)) == 16
    variants = {job_id(*base[:i], "other", *base[i + 1:]) for i in range(len(base))}
    assert len(variants) == len(base) and job_id(*base) not in variants


def test_job_id_counts_a_requested_python() -> None:
    """``--python X.Y`` (docker) makes another job; without it the id is the six-input id it always was."""
    import hashlib

    base = ("lib", "lib==1.0", "e" * 16, "docker", "cpu", "default")
    assert job_id(*base, None) == job_id(*base)
    six = {"library": "lib", "pin": "lib==1.0", "env": "e" * 16, "backend": "docker", "device": "cpu",
           "profile": "default"}
    assert job_id(*base) == hashlib.sha256(json.dumps(six, sort_keys=True).encode()).hexdigest()[:16]
    assert len({job_id(*base), job_id(*base, "3.10"), job_id(*base, "3.11")}) == 3


def test_jobs_and_records_carry_the_python(tmp_path: Path) -> None:
    from harness.batch.jobs import plan_jobs
    from harness.batch.runner import BatchOptions, _options_for
    from harness.pipeline import job_id_for

    manifest = parse_manifest(_manifest(), "lib.yaml")
    settings = Settings(cache_dir=tmp_path)
    plain = make_job(manifest, settings, "docker", "cpu", "default")
    py310 = make_job(manifest, settings, "docker", "cpu", "default", "3.10")
    assert plain.job_id != py310.job_id and py310.python == "3.10" and "python" not in plain.to_json()
    assert py310.to_json()["python"] == "3.10" and py310.label == "lib [docker/cpu/py3.10]"
    jobs = plan_jobs([manifest], settings, backend="docker", devices=["cpu"], profile="default", python="3.10")
    assert [j.job_id for j in jobs] == [py310.job_id]
    # the pipeline stamps the same id on the record, and the batch passes the Python to it
    assert job_id_for(manifest, settings, "docker", "cpu", "default", "3.10") == py310.job_id
    assert job_id_for(manifest, settings, "docker", "cpu", "default") == plain.job_id
    options = BatchOptions(backend="docker", python="3.10")
    assert _options_for(py310, options, "run-1").python == "3.10"
    assert BatchOptions.from_json(options.to_json()) == options  # a resumed run keeps its Python


def test_job_from_manifest_uses_pin_environment_and_constraints(tmp_path: Path) -> None:
    manifest = parse_manifest(_manifest(cpus=2, memory_mb=512), "lib.yaml")
    settings = Settings(cache_dir=tmp_path)
    job = make_job(manifest, settings, "venv", "cpu", "default")
    assert job.resources == Resources(cpus=2.0, memory_bytes=512 * 1024**2, gpus=0)
    assert make_job(manifest, settings, "venv", "cpu", "default").job_id == job.job_id
    pinned = tmp_path / "c.txt"
    pinned.write_text("torch==2.13.0\n")
    assert make_job(manifest, Settings(cache_dir=tmp_path, constraints=(pinned,)), "venv", "cpu",
                    "default").job_id != job.job_id
    # a profile narrows the request: edge-1g is 1 CPU and 1 GiB
    edge = make_job(manifest, settings, "venv", "cpu", "edge-1g")
    assert (edge.resources.cpus, edge.resources.memory_bytes) == (1.0, 512 * 1024**2)
    with pytest.raises(UsageError, match="unknown profile"):
        make_job(manifest, settings, "venv", "cpu", "no-such-profile")


def _job(name: str, *, memory: int = GIB, gpus: int = 0, gpu_memory: int | None = None) -> Job:
    return Job(job_id=name, library=name, backend="venv", device="gpu" if gpus else "cpu", profile="default",
               resources=Resources(cpus=1.0, memory_bytes=memory, gpus=gpus, gpu_memory_bytes=gpu_memory))


def test_pool_respects_jobs_cores_and_memory() -> None:
    pool = ResourcePool(max_jobs=3, cpus=2.0, memory_bytes=4 * GIB)
    a = pool.acquire(_job("a"))
    b = pool.acquire(_job("b"))
    assert a is not None and b is not None
    assert pool.acquire(_job("c")) is None  # both cores are taken
    pool.release(_job("a"), a)
    big = _job("big", memory=8 * GIB)  # more memory than there is free beside b
    assert pool.acquire(big) is None
    pool.release(_job("b"), b)
    alone = pool.acquire(big)  # clamped to the machine: it can always run alone
    assert alone is not None and alone.memory_bytes == 4 * GIB
    assert pool.acquire(_job("d", memory=1)) is None  # nothing fits beside a whole-machine job
    one = ResourcePool(max_jobs=1, cpus=16.0, memory_bytes=64 * GIB)
    assert one.acquire(_job("x")) is not None and one.acquire(_job("y")) is None  # --jobs 1


def test_pool_gives_one_gpu_per_job_unless_memory_is_declared() -> None:
    pool = ResourcePool(max_jobs=8, cpus=8.0, memory_bytes=64 * GIB,
                        gpus=[GpuState(0, free_bytes=40 * GIB), GpuState(1, free_bytes=10 * GIB)])
    whole = [pool.acquire(_job(f"w{i}", gpus=1)) for i in range(3)]
    assert [w.gpu if w else None for w in whole[:2]] == [0, 1] and whole[2] is None
    for i, w in enumerate(whole[:2]):
        assert w is not None
        pool.release(_job(f"w{i}", gpus=1), w)
    # declared needs share a GPU while they fit in its free memory: 3 x 12 GiB on GPU 0 (40 GiB)
    shared = [pool.acquire(_job(f"s{i}", gpus=1, gpu_memory=12 * GIB)) for i in range(4)]
    assert [s.gpu if s else None for s in shared] == [0, 0, 0, None]  # GPU 1 has only 10 GiB free
    small = pool.acquire(_job("small", gpus=1, gpu_memory=8 * GIB))
    assert small is not None and small.gpu == 1
    assert pool.acquire(_job("exclusive", gpus=1)) is None  # no GPU is free of jobs
    cpu_job = pool.acquire(_job("cpu"))
    assert cpu_job is not None and cpu_job.gpu is None  # CPU jobs go on meanwhile


def test_gpu_job_on_a_host_without_gpus_still_runs() -> None:
    pool = ResourcePool(max_jobs=2, cpus=2.0, memory_bytes=4 * GIB, gpus=[])
    alloc = pool.acquire(_job("g", gpus=1))
    assert alloc is not None and alloc.gpu is None  # the pipeline records "cuda-unavailable"


def test_journal_skips_a_torn_line_and_isolates_it(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, "run-1", {"repeats": 1})
    journal.append("planned", job_id="j1", library="a")
    journal.append("started", job_id="j1")
    journal.close()
    path = journal_path(tmp_path, "run-1")
    with path.open("a") as fh:
        fh.write('{"event": "finished", "job_id": "j1", "rec')  # a kill in mid-write
    state = read_journal(path)
    assert (list(state.planned), state.started, state.finished) == (["j1"], {"j1": 1}, {})
    with Journal(path, "run-1") as again:  # reopening starts a fresh line
        again.append("finished", job_id="j1", record="a.json", status="passed")
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["record"] == "a.json"
    assert read_journal(path).finished == {"j1": "a.json"}
    assert latest_journal(tmp_path) == path  # not completed: it is what --resume picks
    with pytest.raises(UsageError, match="use --resume"):
        Journal.create(tmp_path, "run-1", {})


def test_a_run_with_cpu_and_gpu_records_is_rescored_as_pairs(tmp_path: Path) -> None:
    """After a batch, the run's records are scored together: the GPU speed-up pairs CPU and GPU runs.

    Golden evasion-kit (venv, default): CPU smoke mean 5 s, GPU 4 s -> 1.25x -> credit 0.5; applicability
    with the pair 9.3 (CPU) and 9.1 (GPU), as hand-computed in tests/test_scoring_golden.py.
    """
    from scoring_support import copy_golden, golden

    from harness.batch.runner import BatchResult
    from harness.commands.batch import rescore_run
    from harness.scoring import score_record
    from harness.scoring.rescore import load_overlay, record_key

    results = copy_golden(tmp_path / "results")
    settings = Settings(cache_dir=tmp_path / "cache", results_dir=results)
    # as the pipeline stores them: each scored alone when it was made
    cpu, gpu = (
        rec.model_copy(update={"scores": score_record(rec)})
        for rec in (golden("evasion-kit--venv--cpu--default"), golden("evasion-kit--venv--gpu--default"))
    )
    alone = next(c for c in cpu.scores["applicability"]["checks"] if c["check"] == "gpu_speedup")
    assert alone["outcome"] == "inconclusive"
    only_cpu = BatchResult(run_id="golden-run-1", planned=1, skipped=0, records=[cpu])
    assert rescore_run(settings, only_cpu) is None  # nothing to pair, nothing written
    both = BatchResult(run_id="golden-run-1", planned=2, skipped=0, records=[cpu, gpu])
    written = rescore_run(settings, both)
    assert written is not None and written.parent == results / "scores"
    overlay = load_overlay(results)
    assert set(overlay) == {record_key(cpu), record_key(gpu)}
    for rec, expected in ((cpu, 9.3), (gpu, 9.1)):
        app = overlay[record_key(rec)]["applicability"]
        speedup = next(c for c in app["checks"] if c["check"] == "gpu_speedup")
        assert (speedup["outcome"], speedup["value"], app["score"]) == ("measured", 1.25, expected)
    assert rescore_run(settings, both) is None  # already scored so: no new file
