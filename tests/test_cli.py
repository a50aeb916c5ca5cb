"""The command line's one place for errors: usage mistakes are exit 2 with a short message, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--lib", "adversarial-robustness-toolbox", "--bogus"],
        ["evaluate"],
        ["evalute", "--lib", "x"],
        ["run", "--jobs", "0", "--category", "adversarial"],
        ["run", "--jobs", "abc", "--category", "adversarial"],
        ["evaluate", "--lib", "adversarial-robustness-toolbox", "--repeats", "0"],
        ["list", "--json", "extra"],
    ],
)
def test_usage_errors_exit_2_without_traceback(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Error:" in err


def test_unknown_library_is_one_line_naming_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--lib", "adversarial-robustnes-toolbox"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: unknown library 'adversarial-robustnes-toolbox'; closest: adversarial-robustness-toolbox"
    )


def test_summary_prints_markup_from_a_library_as_text() -> None:
    import io

    from rich.console import Console

    from harness.commands.evaluate import summary
    from harness.records import Failure, Host, Reproducibility, ResultRecord, SourceInfo, StageResult

    record = ResultRecord(
        run_id="r", library="tiny", started_at="2026-12-03T16:00:00+00:00", finished_at="2026-12-03T16:00:01+00:00",
        host=Host(platform="linux", python="3.11", cpu_count=2, memory_bytes=1), backend="venv", device="cpu",
        source=SourceInfo(kind="pypi", url="https://pypi.org/project/tiny/", version="1.0"),
        stages=[StageResult(name="fetch", status="failed",
                            failure=Failure(failure_class="crash", message="boom [/] [bold]x", hint="see [/red]"))],
        reproducibility=Reproducibility(verdict="not-run"),
    )
    out = io.StringIO()
    summary(record, Console(file=out, width=200))
    text = out.getvalue()
    assert "crash: boom [/] [bold]x" in text
    assert "hint (fetch): see [/red]" in text


@pytest.mark.parametrize("which", ["--results-dir", "--reports-dir"])
def test_unwritable_output_folders_are_refused_before_any_work(
    which: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    dirs = {"--results-dir": tmp_path / "results", "--reports-dir": tmp_path / "reports"}
    dirs[which] = blocker / "sub"  # cannot be created: its parent is a file
    argv = ["evaluate", "--lib", "adversarial-robustness-toolbox", "--json"]
    for flag, path in dirs.items():
        argv += [flag, str(path)]
    started = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - started < 10  # nothing was fetched or built
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines == [f"error: {which} {blocker / 'sub'}: not a writable directory (Not a directory)"]
    assert not (tmp_path / "results").exists() or list((tmp_path / "results").iterdir()) == []


def test_an_existing_file_as_results_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results"
    target.write_text("")
    assert main(["evaluate", "--lib", "adversarial-robustness-toolbox", "--results-dir", str(target),
                 "--reports-dir", str(tmp_path / "reports")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --results-dir {target}: not a writable directory (exists and is not a directory)")
