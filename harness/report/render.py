"""Rendering the static report: overview, one page per library, badges, charts and CSV/JSON exports.

jinja2 with autoescaping on (every string from a record may hold HTML: log tails, READMEs, failure
messages). Pages are self-contained: CSS and JS are inlined, charts are inline SVG, nothing is
loaded from the network, so ``reports/index.html`` opens offline straight from disk.

Layout of ``reports_dir``: ``index.html``, ``libraries/<slug>.html``, ``badges/<slug>-<dimension>.svg``,
``overview.csv`` and ``overview.json``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness.atomicfile import write_text_atomic
from harness.config import load_settings
from harness.records import STAGE_NAMES, ResultRecord
from harness.report import charts
from harness.report.view import (
    EXPORT_COLUMNS,
    LibraryView,
    Row,
    build_libraries,
    reproducibility_table,
    taxonomy_for,
)
from harness.scoring.rescore import effective_scores, record_key
from harness.scoring.rubric import DIMENSIONS, load_rubric
from harness.scoring.scores import score_record
from harness.taxonomy import FAMILIES

HERE = Path(__file__).parent
GIB = 1024**3
EDGE_BUDGETS = ((1 * GIB, "edge 1 GiB"), (4 * GIB, "gateway 4 GiB"))
DASH = "\u2013"  # an en dash for "not measured"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def page_name(slug: str) -> str:
    return _SAFE.sub("_", slug) + ".html"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value / 2**20:.0f} MiB" if value < GIB else f"{value / GIB:.2f} GiB"


def stage_spark(row: Row) -> Markup:
    """The stage reached by each stored evaluation of the row's configuration, oldest first."""
    return charts.stage_sparkline(
        [
            (p.stage_reached, f"{p.started_at[:16]}: reached {p.stage_reached} ({p.status})")
            for p in row.history
        ]
    )


def runtime_spark(row: Row) -> Markup:
    return charts.line_sparkline([p.runtime_s for p in row.history], "smoke runtime per evaluation")


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 library``, ``2 libraries``, ``0 stored records``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def fmt_score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def fmt_value(value: float | None, unit: str) -> str:
    """A measured check's value for people: bytes in MiB/GiB, seconds, fractions as percentages."""
    if value is None:
        return ""
    if unit == "bytes":
        return fmt_bytes(value)
    if unit == "seconds":
        return fmt_seconds(value)
    if unit == "fraction":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value:.2f}x"
    return f"{value:g} {unit}".strip()


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates in jinja2's per-user cache folder (saves compiling them on every command)."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no safe per-user temp folder: compile every time
        return None


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,  # everything from records is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "seconds": fmt_seconds,
        "bytes": fmt_bytes,
        "score": fmt_score,
        "value": fmt_value,
        "score_colour": lambda s: "#9ca3af" if s is None else charts.score_colour(s),
    }
    env.globals |= {
        "stage_spark": stage_spark,
        "runtime_spark": runtime_spark,
        "counted": counted,
        "repro_table": reproducibility_table,
        "STAGES": STAGE_NAMES,
        "DIMENSIONS": DIMENSIONS,
        "page_name": page_name,
        "css": Markup((HERE / "static" / "report.css").read_text(encoding="utf-8")),
        "js": Markup((HERE / "static" / "report.js").read_text(encoding="utf-8")),
    }
    return env


def _write(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half a page), readable by a web server."""
    return write_text_atomic(path, text)


def _dims(scores: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(d, scores.get(d) or {"score": None, "checks": []}) for d in DIMENSIONS]


def _comparison(library: LibraryView) -> dict[str, Any]:
    """CPU vs GPU speed-up for each configuration that ran on both."""
    speedups = []
    by_cfg = {(r.record.backend, r.record.profile, r.record.device): r for r in library.rows}
    for (backend, profile, device), row in by_cfg.items():
        gpu = by_cfg.get((backend, profile, "gpu"))
        if device == "cpu" and gpu and row.runtime_s and gpu.runtime_s:
            speedups.append(
                {
                    "config": f"{backend} · {profile}",
                    "cpu": row.runtime_s,
                    "gpu": gpu.runtime_s,
                    "ratio": row.runtime_s / gpu.runtime_s,
                }
            )
    return {"speedups": speedups, "profiles": sorted({r.record.profile for r in library.rows})}


def _library_html(library: LibraryView, has_overview: bool) -> str:
    return (
        _env()
        .get_template("library.html.j2")
        .render(
            lib=library,
            rows=library.rows,
            tax=library.taxonomy,
            dims=_dims,
            comparison=_comparison(library),
            has_overview=has_overview,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def _badges(library: LibraryView, reports_dir: Path) -> None:
    for dim in DIMENSIONS:
        _write(
            reports_dir / "badges" / f"{_SAFE.sub('_', library.slug)}-{dim}.svg",
            charts.badge(dim, library.primary.score(dim)),
        )


def render_library(
    record: ResultRecord,
    reports_dir: Path,
    *,
    peers: Sequence[ResultRecord] = (),
    manifests_dir: Path | None = None,
) -> Path:
    """Write (or overwrite) the library's page from this record (and peers of the same library)."""
    manifests = manifests_dir if manifests_dir is not None else load_settings().manifests_dir
    records = [record, *(p for p in peers if p.library == record.library and p is not record)]
    scores = {}
    for rec in records:
        complete = rec.scores and all(d in rec.scores for d in DIMENSIONS)
        scores[record_key(rec)] = dict(rec.scores) if complete else score_record(rec, peers=records)
    library = build_libraries(records, scores, manifests)[0]
    _badges(library, reports_dir)
    return _write(
        reports_dir / "libraries" / page_name(record.library),
        _library_html(library, (reports_dir / "index.html").is_file()),
    )


def _stage_by_family(libraries: Sequence[LibraryView]) -> list[tuple[str, dict[str, int]]]:
    counts: dict[str, Counter[str]] = {}
    for lib in libraries:
        for fam in lib.taxonomy.families:
            counts.setdefault(fam, Counter())[lib.primary.stage_reached] += 1
    order = [f for f in FAMILIES if f in counts] + sorted(f for f in counts if f not in FAMILIES)
    return [(f, dict(counts[f])) for f in order]


def _charts(libraries: Sequence[LibraryView]) -> dict[str, Markup | None]:
    primaries = [lib.primary for lib in libraries]
    cpu_rows = [
        next((r for r in lib.rows if r.record.device == "cpu" and r.runtime_s is not None), None)
        for lib in libraries
    ]
    timed = sorted((r for r in cpu_rows if r is not None), key=lambda r: -(r.runtime_s or 0))
    mem_rows = [next((r for r in lib.rows if r.peak_rss is not None), None) for lib in libraries]
    measured = sorted((r for r in mem_rows if r is not None), key=lambda r: -(r.peak_rss or 0))
    pairs = []
    for lib in libraries:
        for cmp in _comparison(lib)["speedups"]:
            pairs.append(
                (
                    lib.slug if len(_comparison(lib)["speedups"]) == 1 else f"{lib.slug} {cmp['config']}",
                    cmp["cpu"],
                    cmp["gpu"],
                )
            )
    return {
        "stages": charts.stacked_chart(
            "Stage reached per attack family (libraries)", _stage_by_family(libraries), ["none", *STAGE_NAMES]
        ),
        "scores": charts.histograms(
            "Score distribution (libraries per band)",
            [(d, [r.score(d) for r in primaries]) for d in DIMENSIONS],
        ),
        "runtime": charts.hbar_chart(
            "Smoke experiment runtime on CPU",
            [charts.Bar(r.slug, r.runtime_s or 0.0) for r in timed],
            fmt_seconds,
        )
        if timed
        else None,
        "memory": charts.hbar_chart(
            "Peak memory (RSS) of the smoke experiment",
            [
                charts.Bar(
                    f"{r.slug} ({r.record.profile})" if r.record.profile != "default" else r.slug,
                    float(r.peak_rss or 0),
                    colour="#0f766e",
                )
                for r in measured
            ],
            fmt_bytes,
            markers=EDGE_BUDGETS,
        )
        if measured
        else None,
        "cpu_gpu": charts.paired_chart("Smoke runtime, CPU vs GPU", pairs, fmt_seconds) if pairs else None,
    }


def _overview_html(libraries: Sequence[LibraryView], rows: Sequence[Row], n_records: int) -> str:
    def options(values: Sequence[str]) -> list[str]:
        return sorted(set(values))

    primaries = [lib.primary for lib in libraries]
    filters = {
        "family": sorted(
            {f for lib in libraries for f in lib.taxonomy.families},
            key=lambda f: (FAMILIES.index(f) if f in FAMILIES else 99, f),
        ),
        "origin": options([lib.taxonomy.origin for lib in libraries]),
        "status": options([r.status for r in rows]),
        "backend": options([r.record.backend for r in rows]),
        "device": options([r.record.device for r in rows]),
        "profile": options([r.record.profile for r in rows]),
    }
    rubric = load_rubric()
    stamps = {(r.scores.get("rubric") or {}).get("version") for r in rows} - {None}
    return (
        _env()
        .get_template("index.html.j2")
        .render(
            libraries=libraries,
            rows=rows,
            filters=filters,
            charts=_charts(libraries),
            n_records=n_records,
            tiles={
                "libraries": len(libraries),
                "smoke": sum(1 for lib in libraries if any(r.smoke_passed for r in lib.rows)),
                # the reproduce stage itself passed: every experiment ran and matched its reference
                "reproduced": sum(
                    1
                    for r in primaries
                    if r.record.reproducibility.verdict == "reproduced"
                    and (stage := r.record.stage("reproduce")) is not None
                    and stage.status == "passed"
                ),
                "none": sum(1 for r in primaries if r.stage_reached == "none"),
                "edge": sum(1 for lib in libraries if any(r.fits_edge for r in lib.rows)),
            },
            rubric_versions=sorted(stamps) or [rubric.version],
            rubric=rubric,
            generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def _exports(rows: Sequence[Row], reports_dir: Path) -> None:
    import pandas as pd  # only the exports need it (start-up time of `harness evaluate`)

    frame = pd.DataFrame([r.export() for r in rows], columns=list(EXPORT_COLUMNS))
    _write(reports_dir / "overview.csv", frame.to_csv(index=False))
    as_json = frame.to_json(orient="records", indent=2) if rows else "[]"
    _write(reports_dir / "overview.json", as_json + "\n")


def load_all_records(results_dir: Path) -> list[ResultRecord]:
    from harness.store import load_records

    return load_records(results_dir)


def render_report(results_dir: Path, reports_dir: Path, *, manifests_dir: Path | None = None) -> Path:
    """Render the overview and every library page from the stored records; return index.html."""
    manifests = manifests_dir if manifests_dir is not None else load_settings().manifests_dir
    records = load_all_records(results_dir)
    scores = effective_scores(records, results_dir)
    libraries = build_libraries(records, scores, manifests)
    rows = [row for lib in libraries for row in lib.rows]
    reports_dir.mkdir(parents=True, exist_ok=True)
    for lib in libraries:
        _write(reports_dir / "libraries" / page_name(lib.slug), _library_html(lib, True))
        _badges(lib, reports_dir)
    _exports(rows, reports_dir)
    return _write(reports_dir / "index.html", _overview_html(libraries, rows, len(records)))


__all__ = ["render_library", "render_report", "taxonomy_for"]
