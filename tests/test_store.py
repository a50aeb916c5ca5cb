"""Stored records: scrubbing of host-private details, atomic never-overwriting writes, loading."""

from __future__ import annotations

import getpass
import json
import os
import socket
import tempfile
from pathlib import Path

import pytest

from harness.config import Settings
from harness.records import SCHEMA_VERSION, Host, Reproducibility, ResultRecord, SourceInfo, StageResult
from harness.store import (
    MIGRATIONS,
    PUBLIC_NAMES,
    Scrubber,
    load_records,
    migrate,
    record_filename,
    scrub_record,
    write_record,
)


def make_record(log_tail: str = "", run_id: str = "abc123def4567890") -> ResultRecord:
    return ResultRecord(
        run_id=run_id,
        library="tinylib",
        started_at="2026-12-03T16:00:00.000+00:00",
        finished_at="2026-12-03T16:01:00.000+00:00",
        host=Host(platform="Linux", python="3.11.7", cpu_count=2, memory_bytes=1),
        backend="venv",
        device="cpu",
        source=SourceInfo(kind="pypi", url="https://pypi.org/x", version="1.0"),
        stages=[StageResult(name="fetch", status="failed", log_tail=log_tail)],
        reproducibility=Reproducibility(verdict="not-run"),
    )


def test_scrubs_paths_users_hosts_and_credentials(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    home = str(Path.home())
    user, host = getpass.getuser(), socket.gethostname()
    log = (
        f"{settings.cache_dir}/envs/abc/bin/python failed\n{home}/.cache/uv/x\n"
        f"{tempfile.gettempdir()}/harness-run-1/stdout\n"
        f"fetching https://{user}:s3cr3t-token@git.example.com/o/r.git\n"
        f"user {user} on {host}\n"
    )
    clean = scrub_record(make_record(log), settings).stages[0].log_tail
    assert "<cache>/envs/abc/bin/python failed" in clean
    assert "s3cr3t-token" not in clean and "https://***@git.example.com/o/r.git" in clean
    assert str(settings.cache_dir) not in clean
    assert home not in clean.replace("<home>", "")
    assert "<home>/.cache/uv/x" in clean
    assert "<tmp>/harness-run-1/stdout" in clean
    if len(user) >= 3 and user not in PUBLIC_NAMES:
        assert "user <user>" in clean
    if len(host) >= 3 and host not in PUBLIC_NAMES:
        assert "on <host>" in clean


def test_scrubber_leaves_unrelated_words_alone() -> None:
    s = Scrubber()
    assert s.text("accuracy 0.98 on the N-BaIoT sample") == "accuracy 0.98 on the N-BaIoT sample"
    assert s("https://pypi.org/simple/") == "https://pypi.org/simple/"
    assert s({"k": ["ssh://tok@h/x", 3]}) == {"k": ["ssh://***@h/x", 3]}


def test_write_is_atomic_and_never_overwrites(results_dir: Path) -> None:
    rec = make_record()
    first = write_record(rec, results_dir)
    second = write_record(rec, results_dir)  # same name: a new file, not a replacement
    assert first != second and first.exists() and second.exists()
    assert first.name == record_filename(rec)
    assert first.name.startswith("tinylib--venv--cpu--default--20261203T160000Z--")
    assert [p.name for p in results_dir.iterdir() if p.name.startswith(".")] == []  # no temp left
    data = json.loads(first.read_text())
    assert data["stages"][0]["name"] == "fetch" and data["schema_version"] == 1
    assert "class" not in data["stages"][0] or data["stages"][0]["failure"] is None


def test_load_skips_corrupt_files(results_dir: Path) -> None:
    write_record(make_record(run_id="a" * 16), results_dir)
    (results_dir / "broken.json").write_text("{not json")
    (results_dir / "wrong.json").write_text(json.dumps({"schema_version": 1, "library": 3}))
    warnings: list[str] = []
    records = load_records(results_dir, warn=warnings.append)
    assert [r.run_id for r in records] == ["a" * 16]
    assert len(warnings) == 2 and all("skipping" in w for w in warnings)


def test_migrate_applies_registered_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.store as store

    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(MIGRATIONS, 1, lambda d: d | {"renamed": d.pop("old", None)})
    out = migrate({"schema_version": 1, "old": "x"})
    assert out == {"schema_version": 2, "renamed": "x"}
    with pytest.raises(ValueError, match="newer"):
        migrate({"schema_version": 3})


def test_migrate_current_is_identity() -> None:
    data = {"schema_version": SCHEMA_VERSION, "x": 1}
    assert migrate(dict(data)) == data


def test_scrubs_local_indexes_links_and_constraints(tmp_path: Path) -> None:
    settings = Settings(
        cache_dir=tmp_path / "cache",
        find_links=(str(tmp_path / "wheels"),),
        extra_index_urls=((tmp_path / "mirror" / "simple").as_uri(), "https://pypi.example.org/simple"),
        constraints=(tmp_path / "pins.txt",),
    )
    text = (
        f"WARNING: Location '{(tmp_path / 'mirror' / 'simple').as_uri()}/art/' is ignored\n"
        f"Looking in links: {tmp_path / 'wheels'}\n-c {tmp_path / 'pins.txt'}\n"
        "https://pypi.example.org/simple/art/\nthe root process"
    )
    clean = Scrubber(settings).text(text)
    assert str(tmp_path) not in clean
    assert "file://<local-index>/art/" in clean
    assert "Looking in links: <find-links>" in clean and "-c <constraints>" in clean
    assert "https://pypi.example.org/simple/art/" in clean
    assert "the root process" in clean  # account names that identify nobody stay


def test_scrubs_private_user_and_host_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "alice42")
    monkeypatch.setattr(socket, "gethostname", lambda: "lab-gw-7.corp.example")
    clean = Scrubber().text("alice42@lab-gw-7: built by alice42 on lab-gw-7.corp.example; malice42 stays")
    assert clean == "<user>@<host>: built by <user> on <host>; malice42 stays"


def test_scrubs_a_local_git_mirror_root(tmp_path: Path) -> None:
    mirrors = tmp_path / "labs" / "mirrors"
    settings = Settings(git_mirror=f"{mirrors}/{{owner}}+{{name}}/repo")
    log = f"fatal: '{mirrors}/jeiks+Stealing_DL_Models/repo' does not appear to be a git repository"
    clean = scrub_record(make_record(log), settings).stages[0].log_tail
    assert clean == "fatal: '<git-mirror>/jeiks+Stealing_DL_Models/repo' does not appear to be a git repository"
    # a URL template is not a host path: nothing but credentials is removed from it
    url_settings = Settings(git_mirror="https://mirror.example.org/{owner}/{name}.git")
    assert scrub_record(make_record("https://mirror.example.org/o/n.git"), url_settings).stages[0].log_tail == (
        "https://mirror.example.org/o/n.git"
    )


def test_record_file_name_keeps_the_whole_run_id(results_dir: Path) -> None:
    rec = make_record().model_copy(update={"run_id": "20261203T172212Z-06ed"})
    assert record_filename(rec).endswith("--20261203T172212Z-06ed.json")


def test_load_skips_null_version_and_deeply_nested_records(results_dir: Path) -> None:
    good = write_record(make_record(run_id="b" * 16), results_dir)
    data = json.loads(good.read_text())
    (results_dir / "nullversion.json").write_text(json.dumps(data | {"schema_version": None}))
    (results_dir / "strversion.json").write_text(json.dumps(data | {"schema_version": "1"}))
    (results_dir / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (results_dir / "deepfield.json").write_text(
        json.dumps(data)[:-1] + ', "extra": ' + "[" * 50_000 + "]" * 50_000 + "}")
    warnings: list[str] = []
    records = load_records(results_dir, warn=warnings.append)
    assert [r.run_id for r in records] == ["b" * 16]
    assert len(warnings) == 4 and all(w.startswith("warning: skipping ") for w in warnings)
    assert any("nullversion.json: schema_version must be an integer, not null" in w for w in warnings)
    assert any("deep.json: JSON nested too deeply" in w for w in warnings)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("clone https://u:p@ss@h.example/x.git", "clone https://***@h.example/x.git"),
        ("https://u:a@b@c@h.example", "https://***@h.example"),
        ("https://tok@h.example/a and https://v:w@@h2/b", "https://***@h.example/a and https://***@h2/b"),
        ("https://h.example/a?u=x@y", "https://h.example/a?u=x@y"),
    ],
)
def test_credentials_with_at_signs_are_scrubbed_whole(text: str, clean: str) -> None:
    from harness.sources.gitsafety import scrub

    assert Scrubber().text(text) == clean
    assert scrub(text) == clean


def test_records_are_world_readable(results_dir: Path) -> None:
    import os
    import stat

    path = write_record(make_record(), results_dir)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_a_dead_writers_temp_file_is_removed_by_the_next_write(results_dir: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = results_dir / f".record-{dead.stdout.strip()}-abc.tmp"
    stale.write_text('{"half": ')
    mine = results_dir / f".record-{os.getpid()}-live.tmp"  # a live writer's temp file is left alone
    mine.write_text("{}")
    write_record(make_record(), results_dir)
    assert not stale.exists() and mine.exists()
