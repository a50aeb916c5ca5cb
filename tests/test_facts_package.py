"""Package facts of a PyPI release: real wheel and sdist files made here, a JSON API answer served as a
``file://`` document (urllib reads it like an index), and one live check against pypi.org (network)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness.config import Settings
from harness.facts.package import collect_package_facts, spdx_from_classifier, spdx_from_name
from harness.facts.pypi_index import CACHE_FILE, index_facts, json_api_url, release_history

README = "# tinylib\n\n" + "Install with `pip install tinylib`, then call `tinylib.score(seed)`.\n" * 6

WHEEL_METADATA = f"""\
Metadata-Version: 2.1
Name: tinylib
Version: 1.0
Summary: tiny
Home-page: https://tinylib.example
License: UNKNOWN
Project-URL: Documentation, https://tinylib.readthedocs.io
Project-URL: Source Code, https://github.com/example/tinylib
Classifier: License :: OSI Approved :: MIT License
Classifier: Programming Language :: Python :: 3.9
Classifier: Programming Language :: Python :: 3.11
Requires-Python: >=3.8
Requires-Dist: numpy (>=1.20)
Requires-Dist: scipy<2,>=1.5
Requires-Dist: packaging==23.2
Requires-Dist: torch ; python_version >= "3.8"
Requires-Dist: pytest ; extra == "test"
Provides-Extra: test
Description-Content-Type: text/markdown

{README}"""


def write_wheel(path: Path, metadata: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("tinylib/__init__.py", "")
        zf.writestr("tinylib-1.0.dist-info/METADATA", metadata)
    return path


def write_sdist(path: Path, pkg_info: str | None) -> Path:
    members = [("tinylib-1.0/setup.py", "")] + ([("tinylib-1.0/PKG-INFO", pkg_info)] if pkg_info is not None else [])
    with tarfile.open(path, "w:gz") as tf:
        for name, text in members:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_wheel_metadata_facts(tmp_path: Path) -> None:
    facts = collect_package_facts(write_wheel(tmp_path / "tinylib-1.0-py3-none-any.whl", WHEEL_METADATA))
    assert facts["metadata_version"] == "2.1"
    assert (facts["license"], facts["license_source"]) == ("MIT", "Classifier")  # "UNKNOWN" is no licence
    assert facts["readme"] == {"present": True, "bytes": len(README.encode()), "content_type": "text/markdown"}
    # numpy >=1.20 unbounded, scipy <2 bounded, packaging ==23.2 pinned (and bounded), torch unbounded;
    # pytest is an extra, left out
    assert facts["dependencies"] == {"total": 4, "pinned": 1, "bounded": 2, "unbounded": 2}
    assert facts["dependency_declaration"] == ["Requires-Dist"] and facts["extras"] == ["test"]
    assert facts["python_versions"] == {"requires_python": ">=3.8", "classifiers": ["3.9", "3.11"], "conda": None}
    assert facts["project_urls"] == {
        "Homepage": "https://tinylib.example",
        "Documentation": "https://tinylib.readthedocs.io",
        "Source Code": "https://github.com/example/tinylib",
    }
    assert (facts["has_docs"], facts["has_source_url"], facts["has_homepage"]) == (True, True, True)


def test_licence_expression_wins_and_texts_are_recognised(tmp_path: Path) -> None:
    expr = WHEEL_METADATA.replace("License: UNKNOWN\n", "License-Expression: Apache-2.0 OR MIT\n")
    facts = collect_package_facts(write_wheel(tmp_path / "a-1.0-py3-none-any.whl", expr))
    assert (facts["license"], facts["license_source"]) == ("Apache-2.0 OR MIT", "License-Expression")
    mit_text = (
        "Copyright (c) 2020 Someone\n        |\n        |Permission is hereby granted, free of charge, to any "
        "person obtaining a copy of this software"
    )
    text = WHEEL_METADATA.replace("License: UNKNOWN", f"License: {mit_text}").replace(
        "Classifier: License :: OSI Approved :: MIT License\n", ""
    )
    facts = collect_package_facts(write_wheel(tmp_path / "b-1.0-py3-none-any.whl", text))
    assert (facts["license"], facts["license_source"]) == ("MIT", "License")
    odd = WHEEL_METADATA.replace("License: UNKNOWN", "License: Custom research licence").replace(
        "Classifier: License :: OSI Approved :: MIT License\n", "Classifier: License :: OSI Approved :: BSD License\n"
    )
    facts = collect_package_facts(write_wheel(tmp_path / "c-1.0-py3-none-any.whl", odd))
    assert (facts["license"], facts["license_source"]) == ("unknown", "License")
    none = WHEEL_METADATA.replace("Classifier: License :: OSI Approved :: MIT License\n", "")
    assert collect_package_facts(write_wheel(tmp_path / "d-1.0-py3-none-any.whl", none))["license"] == "none"


@pytest.mark.parametrize(
    ("name", "spdx"),
    [
        ("MIT License", "MIT"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("Apache 2.0", "Apache-2.0"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("new BSD", "BSD-3-Clause"),
        ("GPL v3", "GPL-3.0"),
        ("GPLv3+", "GPL-3.0-or-later"),
        ("MPL 2.0", "MPL-2.0"),
        ("BSD", None),
        ("Proprietary", None),
    ],
)
def test_short_licence_names(name: str, spdx: str | None) -> None:
    assert spdx_from_name(name) == spdx


def test_licence_classifiers() -> None:
    assert spdx_from_classifier("License :: OSI Approved :: GNU General Public License v3 (GPLv3)") == "GPL-3.0"
    assert spdx_from_classifier("License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)") == "MPL-2.0"
    assert spdx_from_classifier("License :: OSI Approved :: BSD License") is None  # 2- or 3-clause?


def test_old_sdist_cannot_tell_its_dependencies(tmp_path: Path) -> None:
    pkg_info = (
        "Metadata-Version: 1.1\nName: tinylib\nVersion: 1.0\nLicense: BSD 3-Clause\nHome-page: UNKNOWN\n"
        "Description: tinylib\n        |\n        |A tiny library.\nClassifier: Programming Language :: Python :: 2.7\n"
    )
    facts = collect_package_facts(write_sdist(tmp_path / "tinylib-1.0.tar.gz", pkg_info))
    assert facts["license"] == "BSD-3-Clause"
    assert facts["dependency_declaration"] is None and facts["dependencies"] is None
    assert facts["readme"] == {"present": True, "bytes": len("tinylib\n\nA tiny library."), "content_type": None}
    assert facts["project_urls"] == {} and facts["has_homepage"] is False
    assert facts["python_versions"]["classifiers"] == ["2.7"]
    # Metadata 2.2 sdists are reliable unless Requires-Dist is dynamic
    new = "Metadata-Version: 2.2\nName: tinylib\nVersion: 1.0\n"
    assert collect_package_facts(write_sdist(tmp_path / "n-1.0.tar.gz", new))["dependency_declaration"] == []
    dyn = new + "Dynamic: Requires-Dist\n"
    assert collect_package_facts(write_sdist(tmp_path / "d-1.0.tar.gz", dyn))["dependencies"] is None


def test_unreadable_artifact_is_a_fact_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "tinylib-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    assert collect_package_facts(broken)["metadata_error"].startswith("BadZipFile")
    no_pkg_info = write_sdist(tmp_path / "x-1.0.tar.gz", None)
    assert collect_package_facts(no_pkg_info) == {"metadata_error": "ValueError: no PKG-INFO at the top of the sdist"}


def _file(version_time: str, yanked: bool = False) -> dict[str, object]:
    return {"upload_time_iso_8601": version_time, "yanked": yanked}


JSON_ANSWER = {
    "info": {"name": "tinylib"},
    "releases": {
        "0.9": [_file("2024-06-01T10:00:00.000000Z")],  # more than a year before 1.0
        "0.9.5": [_file("2024-12-24T09:00:00.000000Z"), _file("2024-12-24T08:00:00.000000Z")],
        "0.9.6": [_file("2025-01-10T00:00:00.000000Z", yanked=True)],  # yanked: not a release
        "1.0": [_file("2025-06-01T12:00:00.000000Z")],
        "1.1": [_file("2026-03-01T12:00:00.000000Z")],
        "2.0rc1": [],  # no files
    },
}


def test_release_history_from_the_json_api() -> None:
    assert release_history(JSON_ANSWER, "1.0") == {
        "release_date": "2025-06-01T12:00:00+00:00",
        "last_release_date": "2026-03-01T12:00:00+00:00",
        "releases_last_year": 2,  # 0.9.5 (earliest file 08:00) and 1.0 itself
        "releases_total": 4,
        "index_status": "ok",
    }
    assert release_history(JSON_ANSWER, "1.0.0")["release_date"] == "2025-06-01T12:00:00+00:00"  # PEP 440
    assert release_history(JSON_ANSWER, "3.0")["index_status"] == "unknown: the index has no files for version 3.0"


def test_json_api_url_follows_the_index() -> None:
    assert json_api_url("Tiny_Lib", Settings()) == "https://pypi.org/pypi/tiny-lib/json"
    mirror = Settings(index_url="https://mirror.example/root/simple/")
    assert json_api_url("tinylib", mirror) == "https://mirror.example/root/pypi/tinylib/json"


def test_index_facts_cached_for_a_day_unknown_for_an_hour(tmp_path: Path) -> None:
    root = tmp_path / "index"
    (root / "pypi" / "tinylib").mkdir(parents=True)
    (root / "pypi" / "tinylib" / "json").write_text(json.dumps(JSON_ANSWER))
    settings = Settings(cache_dir=tmp_path / "cache", index_url=(root / "simple").as_uri() + "/")
    release = tmp_path / "release"
    release.mkdir()
    now = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
    first = index_facts("tinylib", "1.0", settings, cache_dir=release, now=now)
    assert first["index_status"] == "ok" and first["releases_last_year"] == 2
    assert first["index_json_url"] == (root / "pypi" / "tinylib" / "json").as_uri()
    assert first["index_checked_at"] == "2026-12-01T03:00:00+00:00"
    assert json.loads((release / CACHE_FILE).read_text()) == first
    (root / "pypi" / "tinylib" / "json").unlink()  # the index goes away: the cached answer still serves
    later = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)
    assert index_facts("tinylib", "1.0", settings, cache_dir=release, now=later) == first
    next_day = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
    gone = index_facts("tinylib", "1.0", settings, cache_dir=release, now=next_day)
    assert gone["index_status"].startswith("unknown: the index's JSON API could not be read (URLError")
    assert gone["release_date"] is None and gone["releases_last_year"] is None
    (root / "pypi" / "tinylib" / "json").write_text(json.dumps(JSON_ANSWER))
    in_the_hour = datetime(2026, 12, 2, 4, 30, tzinfo=timezone.utc)
    assert index_facts("tinylib", "1.0", settings, cache_dir=release, now=in_the_hour) == gone
    after_the_hour = datetime(2026, 12, 2, 5, 1, tzinfo=timezone.utc)
    assert index_facts("tinylib", "1.0", settings, cache_dir=release, now=after_the_hour)["index_status"] == "ok"


def test_http_error_is_unknown(tmp_path: Path) -> None:
    settings = Settings(index_url="http://127.0.0.1:9/simple")  # discard port: nothing listens
    facts = index_facts("tinylib", "1.0", settings)
    assert facts["index_status"].startswith("unknown: ") and facts["last_release_date"] is None


@pytest.mark.network
def test_live_pypi_release_history() -> None:
    """ART 1.20.1 was uploaded on 2025-07-07 (pypi.org); it has had dozens of releases."""
    facts = index_facts("adversarial-robustness-toolbox", "1.20.1", Settings())
    if facts["index_status"] != "ok":
        pytest.skip(f"pypi.org is not reachable here: {facts['index_status']}")
    assert facts["release_date"].startswith("2025-07-07")
    assert facts["releases_total"] >= 60 and facts["releases_last_year"] >= 1
