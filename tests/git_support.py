"""Helpers for tests that need real git repositories: made with the git CLI in a temp folder.

Commits get fixed author/committer dates so that history facts are exact; the user's own git
configuration is kept out (``GIT_CONFIG_GLOBAL=/dev/null``).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from harness.config import Settings
from harness.manifest import Manifest, parse_manifest

MIT_TEXT = textwrap.dedent("""\
    MIT License

    Copyright (c) 2021 Acme Research

    Permission is hereby granted, free of charge, to any person obtaining a copy
    of this software and associated documentation files (the "Software"), to deal
    in the Software without restriction, including without limitation the rights
    to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
    copies of the Software, and to permit persons to whom the Software is
    furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all
    copies or substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
    IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY.
    """)


def git(cwd: Path, *args: str, date: str = "2021-01-01T12:00:00+00:00") -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.org",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.org",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_ALLOW_PROTOCOL": "file"}
    out = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
                         cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    return path


def commit(repo: Path, files: dict[str, str], message: str, date: str) -> str:
    """Write ``files``, commit everything at ``date`` (ISO), return the commit hash."""
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


def bare_copy(repo: Path, dest: Path) -> Path:
    """A bare repository served like a remote (what a mirror is)."""
    git(repo.parent, "clone", "-q", "--bare", str(repo), str(dest))
    return dest


def manifest_data(slug: str, repository: str, commit: str, *, url: str | None = None,
                  ref: str | None = None, submodules: bool = False) -> dict[str, object]:
    """A minimal valid git-source manifest as a dict (what a YAML file holds)."""
    source: dict[str, object] = {"kind": "git", "repository": repository, "commit": commit,
                                 "submodules": submodules}
    if url is not None:
        source["url"] = url
    if ref is not None:
        source["ref"] = ref
    data = {
        "slug": slug, "name": slug, "families": ["adversarial"], "origin": "author",
        "taxonomy": {"security_properties": ["integrity"], "adversary_knowledge": ["white-box"],
                     "targets": ["model"]},
        "source": source,
        "experiments": [{"name": "smoke", "command": ["python", "-c", "pass"]}],
    }
    return data


def manifest_for(slug: str, repository: str, commit: str, *, url: str | None = None,
                 ref: str | None = None, submodules: bool = False) -> Manifest:
    data = manifest_data(slug, repository, commit, url=url, ref=ref, submodules=submodules)
    return parse_manifest(data, f"{slug}.yaml")


def settings_for(tmp: Path, **kw: object) -> Settings:
    return Settings(cache_dir=tmp / "cache").with_overrides(**kw)


README = "# attacklib\n\nAdversarial examples for IoT intrusion detectors.\n"
SETUP_PY = textwrap.dedent("""\
    from setuptools import setup, find_packages

    REQUIRES = ["numpy>=1.19", "scipy"]

    setup(
        name="attacklib",
        packages=find_packages(),
        install_requires=REQUIRES,
        python_requires=">=3.7",
        classifiers=[
            "Programming Language :: Python :: 3.8",
            "Programming Language :: Python :: 3.7",
            "License :: OSI Approved :: MIT License",
        ],
    )
    """)
ATTACKLIB_V1 = {
    "README.md": README,
    "attacklib/__init__.py": "import numpy as np\nfrom . import utils\n",
    "attacklib/utils.py": "import os\n",
}
ATTACKLIB_V2 = {
    "LICENSE": MIT_TEXT,
    "setup.py": SETUP_PY,
    "requirements.txt": ("numpy==1.21.0  # exact\ntorch>=1.8,<2.0\nscikit-learn\n\n"
                         "-r requirements-extra.txt\n"),
    "requirements-extra.txt": "tqdm~=4.0\n--index-url https://example.org/simple\n",
    "attacklib/attack.py": ("import torch\nfrom sklearn.metrics import accuracy_score\n"
                            "import torch.nn as nn\n"),
    "attacklib/legacy.py": "import theano\nprint 'python 2'\n",
    "examples/demo.py": "import keras\nfrom attacklib import attack\n",
    "tests/test_attack.py": "def test_ok():\n    assert True\n",
    "docs/index.md": "# Docs\n",
    ".github/workflows/ci.yml": "on: push\n",
    ".travis.yml": "language: python\n",
}
ATTACKLIB_V3 = {"attacklib/utils.py": "import os\nimport json\n"}
DATES = ("2020-01-10T12:00:00+00:00", "2021-03-01T12:00:00+00:00", "2021-06-01T12:00:00+00:00")


def make_attacklib(path: Path) -> tuple[Path, list[str]]:
    """The fixture library: three commits (dates in ``DATES``), tag ``v1.0`` (annotated) on the
    second, branch ``dev`` on the first. Returns the work tree and the commit hashes."""
    repo = new_repo(path)
    commits = [commit(repo, files, f"commit {i}", date)
               for i, (files, date) in enumerate(zip((ATTACKLIB_V1, ATTACKLIB_V2, ATTACKLIB_V3), DATES,
                                                     strict=True))]
    git(repo, "tag", "-a", "v1.0", "-m", "release 1.0", commits[1], date=DATES[1])
    git(repo, "branch", "dev", commits[0])
    return repo, commits


# The facts of attacklib at its last commit, worked out by hand from the files above.
ATTACKLIB_FACTS = {
    "facts_version": 1,
    "license": "MIT",
    "license_file": "LICENSE",
    "last_commit_date": DATES[2],
    "commits_last_year": 2,  # 2021-03-01 and 2021-06-01 are within a year of 2021-06-01; 2020-01-10 is not
    "readme": {"present": True, "bytes": len(README.encode()), "file": "README.md"},
    "has_docs": True,
    "has_examples": True,
    "has_tests": True,
    "ci": ["github-actions", "travis"],
    "dependency_declaration": ["requirements.txt", "setup.py"],
    "dependency_files": ["requirements-extra.txt", "requirements.txt", "setup.py"],
    # numpy (== wins over >=), torch (<2.0), scikit-learn (none), tqdm (~=), scipy (none)
    "dependencies": {"total": 5, "pinned": 1, "bounded": 3, "unbounded": 2},
    "python_versions": {"requires_python": ">=3.7", "classifiers": ["3.7", "3.8"], "conda": None},
    "frameworks": ["torch", "keras", "theano", "sklearn", "numpy"],
    "python_files": 7,  # setup.py, 4 in attacklib/, examples/demo.py, tests/test_attack.py
    "py3_syntax_errors": 1,  # attacklib/legacy.py (a Python 2 print statement)
    "notebooks": 0,
    "escaping_symlinks": [],
    "missing_files": [],
    "on_pypi": False,
    "tree_truncated": False,
}
