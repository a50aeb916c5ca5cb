"""Stored result records: scrub, write atomically (never overwrite), load, migrate.

One JSON file per evaluation under the results dir, named from library, backend, device, profile,
start time and run id. Records are meant to be published, so every string in them (log tails
included) is scrubbed of host-private details first: the cache dir, the project dir, the home dir,
temp dirs, user and host names, and credentials in URLs become ``<cache>``, ``<project>``,
``<home>``, ``<tmp>``, ``<user>``, ``<host>`` and ``***@``.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config import PROJECT_ROOT, Settings
from harness.records import SCHEMA_VERSION, ResultRecord

# version -> function turning a record of that version into one of version + 1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

# Account and host names that identify nobody (and are ordinary words in logs): left as they are.
PUBLIC_NAMES = frozenset({"root", "localhost", "user", "admin", "runner", "ubuntu", "debian", "nobody"})
# userinfo runs to the LAST '@' before the host (a password may contain '@': u:p@ss@host)
_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/\s'\"?#]+@")
RECORD_MODE = 0o644
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class Scrubber:
    """Replaces host-private substrings in every string of a JSON-like value."""

    def __init__(self, settings: Settings | None = None) -> None:
        paths: list[tuple[str, str]] = []
        if settings is not None:
            paths.append((str(settings.cache_dir), "<cache>"))
            if settings.data_cache is not None:
                paths.append((str(settings.data_cache), "<data-cache>"))
            paths += [(str(c), "<constraints>") for c in settings.constraints]
            for link in settings.find_links:
                if "://" not in link or link.startswith("file://"):
                    paths.append((link.removeprefix("file://").rstrip("/"), "<find-links>"))
            if settings.git_mirror and "://" not in settings.git_mirror.split("{", 1)[0]:
                # a local mirror template: everything up to its first placeholder is host-private
                root = os.path.dirname(settings.git_mirror.split("{", 1)[0].removeprefix("file://"))
                if root not in ("", "/"):
                    paths.append((root, "<git-mirror>"))
            for url in (settings.index_url, *settings.extra_index_urls):
                if url and url.startswith("file://"):
                    paths.append((url.removeprefix("file://").rstrip("/"), "<local-index>"))
        paths.append((str(PROJECT_ROOT), "<project>"))
        tmp = tempfile.gettempdir()
        paths += [(tmp, "<tmp>"), (os.path.realpath(tmp), "<tmp>")]
        home = str(Path.home())
        if home not in ("/", ""):
            paths.append((home, "<home>"))
        # longest first, so that a cache dir under the home dir becomes <cache>, not <home>/...
        seen: set[str] = set()
        self._paths: list[tuple[re.Pattern[str], str]] = []
        for raw, label in sorted(paths, key=lambda p: len(p[0]), reverse=True):
            for variant in {raw, os.path.realpath(raw)}:
                if len(variant) > 1 and variant not in seen:
                    seen.add(variant)
                    self._paths.append((re.compile(re.escape(variant) + r"(?![A-Za-z0-9_.-])"), label))
        self._words: list[tuple[re.Pattern[str], str]] = []
        names = []
        with contextlib.suppress(Exception):
            names.append((getpass.getuser(), "<user>"))
        with contextlib.suppress(Exception):
            host = socket.gethostname()
            names += [(host, "<host>"), (host.split(".")[0], "<host>")]
        for word, label in names:
            if word and len(word) >= 3 and word not in PUBLIC_NAMES:
                self._words.append(
                    (re.compile(r"(?<![A-Za-z0-9_-])" + re.escape(word) + r"(?![A-Za-z0-9_-])"), label)
                )

    def text(self, value: str) -> str:
        value = _CREDENTIALS.sub(r"\1***@", value)
        for pattern, label in self._paths:
            value = pattern.sub(label, value)
        for pattern, label in self._words:
            value = pattern.sub(label, value)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def scrub_record(record: ResultRecord, settings: Settings | None = None) -> ResultRecord:
    data = Scrubber(settings)(record.model_dump(mode="json", by_alias=True))
    return ResultRecord.model_validate(data)


def record_filename(record: ResultRecord) -> str:
    try:
        stamp = datetime.fromisoformat(record.started_at).strftime("%Y%m%dT%H%M%SZ")
    except ValueError:
        stamp = _SAFE_NAME.sub("", record.started_at)
    parts = [record.library, record.backend, record.device, record.profile, stamp, record.run_id]
    return "--".join(_SAFE_NAME.sub("_", p) for p in parts) + ".json"


TEMP_PREFIX = ".record-"


def _remove_stale_temps(results_dir: Path) -> None:
    """Temp files of writers that died mid-write (SIGKILL): never records (``*.json`` only), removed."""
    for tmp in results_dir.glob(f"{TEMP_PREFIX}*.tmp"):
        pid = tmp.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_record(record: ResultRecord, results_dir: Path, settings: Settings | None = None) -> Path:
    """Scrub and write the record atomically; an existing file is never replaced. Returns the path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    clean = scrub_record(record, settings)
    payload = clean.model_dump_json(by_alias=True, indent=2) + "\n"
    _remove_stale_temps(results_dir)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=results_dir)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, RECORD_MODE)  # mkstemp makes 0600; records are meant to be published
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        base = record_filename(clean)
        for n in range(1000):
            target = results_dir / (base if n == 0 else base.replace(".json", f"-{n}.json"))
            try:
                os.link(tmp, target)  # atomic, and fails instead of overwriting
            except FileExistsError:
                continue
            except OSError:  # a filesystem without hard links
                if target.exists():
                    continue
                os.replace(tmp, target)
            _fsync_dir(results_dir)
            return target
        raise OSError(f"no free record name for {base} in {results_dir}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored record's dict to the current ``SCHEMA_VERSION``."""
    version = data.get("schema_version", 1)
    if type(version) is not int:
        raise ValueError(f"schema_version must be an integer, not {json.dumps(version)[:40]}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is newer than this harness ({SCHEMA_VERSION}); upgrade it"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ValueError(f"no migration from schema_version {version}")
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data


def load_record(path: Path) -> ResultRecord:
    """One stored record; ``ValueError`` (or ``ValidationError``/``OSError``) when it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return ResultRecord.model_validate(migrate(data))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def load_records(results_dir: Path, *, warn: Callable[[str], None] | None = None) -> list[ResultRecord]:
    """Every readable record under results_dir (oldest first); corrupt files are skipped with a warning."""
    say = warn or (lambda msg: print(msg, file=sys.stderr))
    records: list[ResultRecord] = []
    if not results_dir.is_dir():
        return records
    for path in sorted(results_dir.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            records.append(load_record(path))
        except (OSError, ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            say(f"warning: skipping {path}: {first}")
    records.sort(key=lambda r: r.started_at)
    return records
