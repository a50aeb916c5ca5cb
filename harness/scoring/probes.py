"""Probes: small named questions over one stored result record (and its peers), nothing else.

Each probe answers pass, fail, a measured value, or *inconclusive* (it could not be measured: the
fact was not collected, the stage was never reached because the harness broke, the record is for
another device). Probes read only the record: its stages, experiments, reproducibility verdict,
patches and ``facts`` - ``facts["repository"]`` (git facts, :mod:`harness.facts`) or
``facts["package"]`` (a PyPI release's metadata and release history, :mod:`harness.facts.package`,
:mod:`harness.facts.pypi_index`), ``facts["run"]`` (run facts) and ``facts["manifest"]`` (the
catalogue's taxonomy, see :func:`manifest_facts`). The accessibility probes read the source facts
through :meth:`ProbeInput.source_facts`: the same key names mean the same thing in both. ``peers``
are other stored records of the same library (used only to pair CPU and GPU runs).

Every probe registered here must have an entry in ``rubric.yaml`` and vice versa.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from harness.records import ResultRecord, StageName, StageResult
from harness.timeutil import parse_iso

if TYPE_CHECKING:
    from harness.manifest import Manifest

OutcomeKind = Literal["pass", "fail", "value", "inconclusive"]
SourceFactsKind = Literal["repository", "package", ""]
# Failure classes that name no cause: a failure carrying one of these is not "clear".
GENERIC_FAILURE_CLASSES = frozenset({"crash", "unknown", "error", ""})
README_MIN_BYTES = 300  # shorter READMEs rarely say how to install and run anything


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    reason: str
    value: float | None = None


def passed(reason: str) -> Outcome:
    return Outcome("pass", reason)


def failed(reason: str, value: float | None = None) -> Outcome:
    return Outcome("fail", reason, value)


def measured(value: float, reason: str) -> Outcome:
    return Outcome("value", reason, value)


def inconclusive(reason: str) -> Outcome:
    return Outcome("inconclusive", reason)


@dataclass(frozen=True)
class ProbeInput:
    record: ResultRecord
    peers: Sequence[ResultRecord] = field(default_factory=tuple)

    def fact(self, *path: str) -> Any:
        """``facts[path[0]][path[1]]...``; None when any level is missing."""
        node: Any = self.record.facts
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def source_facts(self) -> tuple[dict[str, Any], SourceFactsKind]:
        """The facts about the library's source: ``facts["repository"]`` (a git checkout), else
        ``facts["package"]`` (a PyPI release); ``({}, "")`` when neither was collected."""
        for where in ("repository", "package"):
            node = self.record.facts.get(where)
            if isinstance(node, dict) and node:
                return node, where
        return {}, ""

    def source_fact(self, key: str) -> tuple[Any, SourceFactsKind]:
        """``source_facts()[key]`` (None when absent) and where it came from."""
        node, where = self.source_facts()
        return node.get(key), where


Probe = Callable[[ProbeInput], Outcome]
PROBES: dict[str, Probe] = {}


def probe(fn: Probe) -> Probe:
    """Register a probe under its function name (the check's name in the rubric)."""
    PROBES[fn.__name__] = fn
    return fn


def run_probes(record: ResultRecord, peers: Sequence[ResultRecord] = ()) -> dict[str, Outcome]:
    inp = ProbeInput(record, tuple(p for p in peers if p is not record))
    return {name: fn(inp) for name, fn in PROBES.items()}


def manifest_facts(manifest: Manifest) -> dict[str, Any]:
    """The catalogue facts probes need, for ``record.facts["manifest"]`` (taxonomy, tabular experiments)."""
    return {
        "families": list(manifest.families),
        "origin": manifest.origin,
        "name": manifest.name,
        "taxonomy": manifest.taxonomy.model_dump(mode="json"),
        "experiments": [
            {"name": e.name, "tabular": e.tabular, "gpu_capable": e.gpu_capable} for e in manifest.experiments
        ],
    }


# ---- helpers over stages and experiments -------------------------------------------------------


def stage_outcome(record: ResultRecord, name: StageName, what: str) -> Outcome:
    """Pass/fail of one stage; a stage skipped after a failed one counts as failed (never reached)."""
    st = record.stage(name)
    if st is None:
        return inconclusive(f"the record has no {name} stage")
    if st.status == "passed":
        return passed(f"{what}: the {name} stage passed")
    if st.status == "failed":
        return failed(f"{what}: the {name} stage failed{_failure_text(st)}")
    if st.status == "error":
        return inconclusive(f"the harness itself broke during {name}; nothing was measured")
    blocker = _blocking_stage(record, name)
    if blocker is not None and blocker.status == "failed":
        return failed(f"{what}: never reached, {blocker.name} failed{_failure_text(blocker)}")
    if blocker is not None:
        return inconclusive(f"{name} was not reached: the harness broke during {blocker.name}")
    note = st.details.get("reason") if isinstance(st.details, dict) else None
    return inconclusive(f"{name} was skipped" + (f": {note}" if note else ""))


def _blocking_stage(record: ResultRecord, name: StageName) -> StageResult | None:
    """The first earlier stage that failed or errored."""
    for st in record.stages:
        if st.name == name:
            return None
        if st.status in ("failed", "error"):
            return st
    return None


def _failure_text(st: StageResult) -> str:
    if st.failure is None:
        return ""
    return f" ({st.failure.failure_class}: {_short(st.failure.message)})"


def _short(text: str, limit: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def smoke_wall_s(record: ResultRecord) -> float | None:
    """Runtime of the smoke experiments: the mean wall time of each experiment's repeats, summed."""
    smoke = record.stage("smoke")
    if smoke is None or smoke.status != "passed":
        return None
    means = [sum(r.wall_s for r in e.repeats) / len(e.repeats) for e in record.experiments if e.repeats]
    return sum(means) if means else None


def peak_rss_bytes(record: ResultRecord) -> int | None:
    """Peak RSS while the smoke experiments ran (the largest over repeats and the smoke stage)."""
    values = [r.peak_rss_bytes for e in record.experiments for r in e.repeats if r.peak_rss_bytes]
    smoke = record.stage("smoke")
    if smoke is not None and smoke.peak_rss_bytes:
        values.append(smoke.peak_rss_bytes)
    return max(values) if values else None


def _same_config_peer(inp: ProbeInput, device: str) -> ResultRecord | None:
    """The newest peer with the same library, backend and profile on the other device."""
    rec = inp.record
    matches = [
        p
        for p in inp.peers
        if p.library == rec.library
        and p.backend == rec.backend
        and p.profile == rec.profile
        and p.device == device
    ]
    return max(matches, key=lambda p: p.started_at, default=None)


# ---- accessibility -----------------------------------------------------------------------------

HEX40 = re.compile(r"^[0-9a-f]{40}$")


@probe
def pinned_source(inp: ProbeInput) -> Outcome:
    src = inp.record.source
    pin = src.commit if src.kind == "git" else src.version
    if src.kind == "git" and not (pin and HEX40.match(pin)):
        return failed("the git source is not pinned to a full commit hash")
    if src.kind == "pypi" and not pin:
        return failed("the PyPI source is not pinned to a release")
    return stage_outcome(inp.record, "fetch", f"{src.kind} source at {pin}")


RELEASE = "the release's metadata"


@probe
def has_license(inp: ProbeInput) -> Outcome:
    lic, where = inp.source_fact("license")
    if lic is None:
        lic, where = inp.source_fact("licence")
    if lic is None:
        return inconclusive("no licence fact was collected")
    if str(lic).lower() in ("none", ""):
        return failed("no licence file in the repository" if where == "repository" else f"{RELEASE} names no licence")
    if str(lic).lower() == "unknown":
        if where == "repository":
            return passed("a licence file exists (its SPDX identifier was not recognised)")
        return passed(f"{RELEASE} declares a licence (not recognised as an SPDX identifier)")
    return passed(f"licence {lic}" + ("" if where == "repository" else f" (from {RELEASE})"))


@probe
def on_pypi(inp: ProbeInput) -> Outcome:
    fact = inp.fact("repository", "on_pypi")
    if isinstance(fact, bool):
        return passed("released on PyPI") if fact else failed("not released on PyPI")
    if inp.record.source.kind == "pypi":
        return passed(f"evaluated from the PyPI release {inp.record.source.version}")
    return inconclusive("whether it is on PyPI was not recorded")


@probe
def install_docs(inp: ProbeInput) -> Outcome:
    readme, where = inp.source_fact("readme")
    size: Any = inp.fact("repository", "readme_bytes")
    present: Any = readme
    if isinstance(readme, dict):
        present = readme.get("present", True)
        size = readme.get("bytes", readme.get("size", size))
    elif isinstance(readme, int) and not isinstance(readme, bool):
        present, size = readme > 0, readme
    what = "README" if where != "package" else "long description (the README on PyPI)"
    if present is None:
        return inconclusive("no README fact was collected")
    if not present:
        return failed("no README in the repository" if where != "package" else f"{RELEASE} has no {what}")
    if isinstance(size, int) and size < README_MIN_BYTES:
        return failed(f"the {what} has only {size} bytes - too short to explain install and use")
    return passed(f"a {what} is present" + (f" ({size} bytes)" if isinstance(size, int) else ""))


@probe
def has_docs_or_examples(inp: ProbeInput) -> Outcome:
    (docs, where), (examples, _) = inp.source_fact("has_docs"), inp.source_fact("has_examples")
    if docs is None and examples is None:
        return inconclusive("docs and examples folders were not inspected")
    found = [n for n, v in (("docs", docs), ("examples", examples)) if v]
    if where == "package":
        if docs:
            return passed(f"{RELEASE} links its documentation")
        return failed(f"{RELEASE} links no documentation (a release does not show its examples)")
    return passed(f"has {' and '.join(found)}") if found else failed("no docs or examples folder")


@probe
def maintained_last_year(inp: ProbeInput) -> Outcome:
    """The newest commit or release known is less than a year older than the run.

    A git source: the pinned commit (the newest the catalogue evaluates). A PyPI release: the newest
    release on the index when it was fetched (else the pinned release).
    """
    node, where = inp.source_facts()
    if where == "package":
        last = parse_iso(node.get("last_release_date") or node.get("release_date"))
        count, what, unit = node.get("releases_last_year"), "release", "releases in the year up to the pinned one"
    else:
        last = parse_iso(node.get("last_commit_date") or inp.record.source.commit_date)
        count, what, unit = node.get("commits_last_year"), "commit", "commits in the year before it"
    run = parse_iso(inp.record.started_at)
    if last is None or run is None:
        status = node.get("index_status") if where == "package" else None
        return inconclusive(f"no {what} date was recorded" + (f" ({status})" if status else ""))
    if (last.tzinfo is None) != (run.tzinfo is None):
        last, run = last.replace(tzinfo=None), run.replace(tzinfo=None)
    age = run - last
    activity = f"; {count} {unit}" if isinstance(count, int) and not isinstance(count, bool) else ""
    day = last.date().isoformat()
    if age <= timedelta(days=365):
        return passed(f"last {what} {day}, within a year of the run{activity}")
    return failed(f"last {what} {day}, {age.days} days before the run{activity}")


@probe
def dependencies_declared(inp: ProbeInput) -> Outcome:
    node, where = inp.source_facts()
    if "dependency_declaration" not in node:
        if inp.record.source.kind == "pypi":
            return passed("a PyPI release declares its dependencies in its metadata")
        return inconclusive("how dependencies are declared was not inspected")
    decl = node["dependency_declaration"]
    if decl is None:
        return inconclusive(f"{RELEASE} cannot tell (an sdist before Metadata 2.2 need not list them)")
    if not decl or decl == "none":
        if where == "package":
            return failed(f"{RELEASE} declares no dependency (no Requires-Dist)")
        return failed("no requirements file, setup.py or pyproject.toml declares the dependencies")
    text = ", ".join(decl) if isinstance(decl, list) else str(decl)
    return passed(f"declared in {text}" + (f" ({RELEASE})" if where == "package" else ""))


@probe
def dependencies_bounded(inp: ProbeInput) -> Outcome:
    deps, _ = inp.source_fact("dependencies")
    if not isinstance(deps, dict) or not isinstance(deps.get("total"), int):
        return inconclusive("dependency bounds were not inspected")
    total = deps["total"]
    if total == 0:
        return inconclusive("no declared dependencies to judge")
    # ``bounded`` counts the pinned ones too (harness.facts.dependencies); max() also reads records
    # that counted them apart.
    ok = max(int(deps.get("bounded", 0)), int(deps.get("pinned", 0)))
    return measured(ok / total, f"{ok} of {total} dependencies pinned or bounded")


# ---- usability ---------------------------------------------------------------------------------


def _patch_count(inp: ProbeInput) -> int:
    """Manual fixes applied: the record's ``patches``, else ``facts.run.patches`` (a list or a count)."""
    if inp.record.patches:
        return len(inp.record.patches)
    run_patches = inp.fact("run", "patches")
    if isinstance(run_patches, list):
        return len(run_patches)
    return run_patches if isinstance(run_patches, int) and not isinstance(run_patches, bool) else 0


@probe
def installs_without_patches(inp: ProbeInput) -> Outcome:
    n = _patch_count(inp)
    build = stage_outcome(inp.record, "build", "install")
    if build.kind != "pass":
        if build.kind == "fail" and n:
            return failed(f"{build.reason}, even with {n} manual fix(es)", float(n))
        return build
    if n == 0:
        return measured(0, "installs as released, no manual fix")
    return measured(n, f"installs only with {n} manual fix(es) from the manifest")


@probe
def install_time(inp: ProbeInput) -> Outcome:
    """Time of a real install: ``facts.run.install_s``, else the build stage's duration; never a cache hit."""
    build = inp.record.stage("build")
    if build is None or build.status != "passed":
        return inconclusive("no successful install to time")
    install_s = inp.fact("run", "install_s")
    timed = isinstance(install_s, (int, float)) and not isinstance(install_s, bool) and install_s > 0
    if build.cached or inp.fact("run", "env_cached"):
        if not timed:
            return inconclusive("the environment came from the cache; the install was not timed")
        return measured(float(install_s), f"installed in {float(install_s):.1f} s (timed when the cached "
                        "environment was built)")
    seconds = float(install_s) if timed else build.duration_s
    return measured(seconds, f"installed in {seconds:.1f} s")


@probe
def imports(inp: ProbeInput) -> Outcome:
    return stage_outcome(inp.record, "import", "import")


@probe
def smoke_runs(inp: ProbeInput) -> Outcome:
    return stage_outcome(inp.record, "smoke", f"smoke experiment on {inp.record.device}")


@probe
def clear_failure(inp: ProbeInput) -> Outcome:
    first = next((s for s in inp.record.stages if s.status == "failed"), None)
    if first is None:
        return inconclusive("nothing failed, so there was no error message to judge")
    fail = first.failure
    if fail is None or fail.failure_class in GENERIC_FAILURE_CLASSES:
        cls = fail.failure_class if fail else "no class"
        return failed(f"{first.name} failed without a recognisable cause ({cls})")
    if not fail.hint.strip():
        return failed(f"{first.name} failed as {fail.failure_class}, but with no hint on a fix")
    return passed(f"{first.name} failed as {fail.failure_class}, with a hint on the fix")


@probe
def reproduces_reference(inp: ProbeInput) -> Outcome:
    verdict = inp.record.reproducibility.verdict
    if verdict == "reproduced":
        return passed("metrics stable across repeats and within tolerance of the reference")
    if verdict == "mismatch":
        return failed("metrics differ from the reference beyond the tolerance")
    if verdict == "unstable":
        return failed("metrics vary across repeats beyond the stability tolerance")
    if verdict == "stable":
        return inconclusive("metrics are stable, but there is no reference to compare with")
    smoke = stage_outcome(inp.record, "smoke", "smoke experiment")
    if smoke.kind == "fail":
        return failed("not run: " + smoke.reason)
    return inconclusive("reproducibility was not evaluated")


# ---- applicability -----------------------------------------------------------------------------


def _on_device(inp: ProbeInput, device: str) -> Outcome:
    if inp.record.device != device:
        return inconclusive(f"this record ran on {inp.record.device}, not {device}")
    return stage_outcome(inp.record, "smoke", f"smoke experiment on {device}")


@probe
def smoke_runs_on_cpu(inp: ProbeInput) -> Outcome:
    return _on_device(inp, "cpu")


@probe
def smoke_runs_on_gpu(inp: ProbeInput) -> Outcome:
    return _on_device(inp, "gpu")


@probe
def fits_edge_memory(inp: ProbeInput) -> Outcome:
    smoke = inp.record.stage("smoke")
    peak = peak_rss_bytes(inp.record)
    if smoke is not None and smoke.failure is not None and smoke.failure.failure_class == "out-of-memory":
        return failed(f"killed for memory under profile {inp.record.profile}", float(peak) if peak else None)
    if smoke is None or smoke.status != "passed":
        return inconclusive("no completed smoke run to measure")
    if peak is None:
        return inconclusive("peak memory was not measured")
    return measured(float(peak), f"peak RSS {peak / 2**20:.0f} MiB during the smoke experiment")


@probe
def cpu_runtime(inp: ProbeInput) -> Outcome:
    if inp.record.device != "cpu":
        return inconclusive(f"this record ran on {inp.record.device}")
    wall = smoke_wall_s(inp.record)
    if wall is None:
        return inconclusive("no completed smoke run to time")
    return measured(wall, f"smoke experiment took {wall:.1f} s on CPU")


@probe
def gpu_speedup(inp: ProbeInput) -> Outcome:
    rec = inp.record
    other = _same_config_peer(inp, "cpu" if rec.device == "gpu" else "gpu")
    if other is None:
        return inconclusive("no CPU and GPU runs of the same configuration to compare")
    cpu, gpu = (other, rec) if rec.device == "gpu" else (rec, other)
    cpu_s, gpu_s = smoke_wall_s(cpu), smoke_wall_s(gpu)
    if cpu_s is None or gpu_s is None or gpu_s <= 0:
        return inconclusive("the smoke experiment did not complete on both devices")
    return measured(cpu_s / gpu_s, f"CPU {cpu_s:.1f} s / GPU {gpu_s:.1f} s = {cpu_s / gpu_s:.2f}x")


TABULAR_TYPES = frozenset({"tabular", "time-series"})
NOT_FRAMEWORKS = frozenset({"other", "numpy"})  # numpy alone is no ML framework


@probe
def accepts_tabular_data(inp: ProbeInput) -> Outcome:
    experiments = inp.fact("manifest", "experiments")
    if not isinstance(experiments, list):
        return inconclusive("the record carries no catalogue facts about its experiments")
    tabular = {e.get("name") for e in experiments if isinstance(e, dict) and e.get("tabular")}
    if tabular:
        smoke = stage_outcome(inp.record, "smoke", "N-BaIoT experiment")
        ran = [
            e.name
            for e in inp.record.experiments
            if e.name in tabular and e.repeats and all(r.exit_code == 0 for r in e.repeats)
        ]
        if smoke.kind == "pass" and ran:
            return passed(f"experiment {ran[0]} ran on the N-BaIoT sample")
        return smoke if smoke.kind != "pass" else failed("the N-BaIoT experiment did not complete")
    types = set(inp.fact("manifest", "taxonomy", "data_types") or [])
    if types & TABULAR_TYPES:
        return inconclusive(
            f"claims {', '.join(sorted(types & TABULAR_TYPES))} data; no experiment exercised it"
        )
    shown = ", ".join(sorted(types)) or "no declared data type"
    return failed(f"no tabular experiment; data types: {shown}")


@probe
def frameworks_supported(inp: ProbeInput) -> Outcome:
    frameworks = inp.fact("manifest", "taxonomy", "frameworks") or inp.fact("repository", "frameworks")
    if not isinstance(frameworks, list):
        return inconclusive("frameworks were neither catalogued nor scanned")
    named = sorted({str(f) for f in frameworks} - NOT_FRAMEWORKS)
    return measured(len(named), f"frameworks: {', '.join(named) or 'none found'}")


@probe
def threat_models_covered(inp: ProbeInput) -> Outcome:
    families = inp.fact("manifest", "families")
    if not isinstance(families, list) or not families:
        return inconclusive("the record carries no catalogue facts about attack families")
    return measured(len(families), f"families: {', '.join(families)}")


__all__ = ["PROBES", "Outcome", "ProbeInput", "manifest_facts", "probe", "run_probes"]
