"""Raw repository facts, asserted exactly on fixture repositories whose facts were worked out by hand."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from git_support import ATTACKLIB_FACTS, MIT_TEXT, commit, git, make_attacklib, new_repo, write

from harness.facts import collect_repo_facts
from harness.facts.dependencies import _strictness_conda, _strictness_pep508, _strictness_poetry
from harness.facts.licence import identify
from harness.facts.tree import walk
from harness.records import SourceInfo

APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
   4. Redistribution. You may reproduce and distribute copies of the Work
"""
GPL3 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>
 ...
 into proprietary programs.  If your program is a subroutine library, you
may consider it more useful to permit linking proprietary applications with
the library.  If this is what you want to do, use the GNU Lesser General
Public License instead of this License.  But first, please read
<https://www.gnu.org/licenses/why-not-lgpl.html>.
  13. Use with the GNU Affero General Public License.
"""
GPL2 = ("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991\n"
        "... use the GNU Library General Public License instead")
LGPL21 = "GNU LESSER GENERAL PUBLIC LICENSE\n Version 2.1, February 1999\n"
AGPL = "GNU AFFERO GENERAL PUBLIC LICENSE\n Version 3, 19 November 2007\n"
BSD3 = """Copyright (c) 2019, Acme. All rights reserved.
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
* Neither the name of the copyright holder nor the names of its
  contributors may be used to endorse or promote products derived from
  this software without specific prior written permission.
"""
BSD2 = BSD3.split("* Neither")[0] + "1. Redistributions of source code must retain the above copyright notice"
MPL2 = "Mozilla Public License Version 2.0\n==================================\n"
UNLICENSE = "This is free and unencumbered software released into the public domain.\n"
CC_BY_NC = "Attribution-NonCommercial 4.0 International\n\n=======\n Creative Commons Corporation"


@pytest.mark.parametrize(("text", "spdx"), [
    (MIT_TEXT, "MIT"), (APACHE, "Apache-2.0"), (GPL3, "GPL-3.0"), (GPL2, "GPL-2.0"), (LGPL21, "LGPL-2.1"),
    (AGPL, "AGPL-3.0"), (BSD3, "BSD-3-Clause"), (BSD2, "BSD-2-Clause"), (MPL2, "MPL-2.0"),
    (UNLICENSE, "Unlicense"), (CC_BY_NC, "CC-BY-NC-4.0"),
    ("SPDX-License-Identifier: BSD-3-Clause\n", "BSD-3-Clause"),
    # the project's own licence first, bundled third-party licences quoted further down
    (CC_BY_NC + "\nThird-party code under the Apache License, Version 2.0:\n" + APACHE, "CC-BY-NC-4.0"),
    (MIT_TEXT + "\nvendor/x is under the GNU General Public License, version 2", "MIT"),
    ("Copyright 2020 Acme. All rights reserved. Do not copy.", "unknown"),
])
def test_licence_identification(text: str, spdx: str) -> None:
    assert identify(text) == spdx


def test_attacklib_facts_from_a_plain_clone(tmp_path: Path) -> None:
    """The same facts as through the harness's fetch, from a full clone (history not shallow)."""
    repo, commits = make_attacklib(tmp_path / "attacklib")
    info = SourceInfo(kind="git", url="https://github.com/acme/attacklib.git", commit=commits[2],
                      commit_date="2021-06-01T12:00:00+00:00")
    assert collect_repo_facts(repo, info, on_pypi=False) == ATTACKLIB_FACTS


def test_commits_last_year_is_unknown_on_a_shallow_clone_without_the_year(tmp_path: Path) -> None:
    repo, _ = make_attacklib(tmp_path / "attacklib")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    facts = collect_repo_facts(shallow)
    assert facts["last_commit_date"] == "2021-06-01T12:00:00+00:00"
    assert facts["commits_last_year"] is None


ENV_YML = textwrap.dedent("""\
    name: condalib
    channels: [pytorch, conda-forge]
    dependencies:
      - python=3.6=h0371630_1
      - pip
      - numpy=1.19
      - pytorch::pytorch==1.4.0
      - scipy>=1.2
      - cudatoolkit=10.1=h0
      - pip:
        - tensorflow==1.15
        - jax
    """)
PYPROJECT = textwrap.dedent("""\
    [tool.poetry]
    name = "condalib"
    classifiers = ["Programming Language :: Python :: 3.6", "Programming Language :: Python :: 3"]

    [tool.poetry.dependencies]
    python = "^3.6"
    numpy = "^1.19"
    lasagne = {git = "https://github.com/Lasagne/Lasagne.git", rev = "a61b76f"}
    pandas = "*"
    """)
NOTEBOOK = json.dumps({"cells": [
    {"cell_type": "markdown", "source": ["import torch  # prose, not code\n"]},
    {"cell_type": "code",
     "source": ["%matplotlib inline\n", "import jax.numpy as jnp\n", "from lasagne import layers"]},
]})


def test_condalib_facts(tmp_path: Path) -> None:
    """environment.yml + Poetry, Apache licence, a notebook, no README/CI/tests, a symlink out."""
    repo = new_repo(tmp_path / "condalib")
    files = {
        "LICENSE.txt": APACHE, "COPYING": "whatever", "environment.yml": ENV_YML, "pyproject.toml": PYPROJECT,
        "condalib/model.py": "from tensorflow import keras\nimport numpy\n",
        "notebooks/demo.ipynb": NOTEBOOK, "doc/index.rst": "Docs\n", "Jenkinsfile": "pipeline {}\n",
        "node_modules/pkg/index.py": "import torch\n",  # vendored: skipped
    }
    commit(repo, files, "one", "2019-05-05T00:00:00+00:00")
    os.symlink("/etc/hostname", repo / "hostname")
    commit(repo, {}, "two", "2019-05-06T00:00:00+00:00")
    facts = collect_repo_facts(repo, on_pypi=True)
    assert facts == {
        "facts_version": 1,
        "license": "Apache-2.0",
        "license_file": "LICENSE.txt",  # COPYING is shorter but not recognised
        "last_commit_date": "2019-05-06T00:00:00+00:00",
        "commits_last_year": 2,
        "readme": {"present": False, "bytes": 0, "file": None},
        "has_docs": True,
        "has_examples": True,  # notebooks/
        "has_tests": False,
        "ci": ["jenkins"],
        "dependency_declaration": ["pyproject.toml", "environment.yml"],
        "dependency_files": ["pyproject.toml", "environment.yml"],
        # conda: numpy (=1.19 -> bounded; Poetry ^1.19 bounded), pytorch (== pinned), scipy (>= unbounded),
        # cudatoolkit (=ver=build pinned); pip: tensorflow (pinned), jax (unbounded);
        # Poetry: lasagne (git at a rev: pinned), pandas (*: unbounded). python and pip are not counted.
        "dependencies": {"total": 8, "pinned": 4, "bounded": 5, "unbounded": 3},
        "python_versions": {"requires_python": "^3.6", "classifiers": ["3", "3.6"], "conda": "3.6"},
        "frameworks": ["tensorflow", "lasagne", "jax", "numpy"],
        "python_files": 1,
        "py3_syntax_errors": 0,
        "notebooks": 1,
        "escaping_symlinks": [{"path": "hostname", "target": "/etc/hostname"}],
        "missing_files": [],
        "on_pypi": True,
        "tree_truncated": False,
    }


def test_python2_setup_py_and_setup_cfg(tmp_path: Path) -> None:
    write(tmp_path, {
        "setup.py": "print 'installing'\nsetup(name='old', install_requires=['theano==0.9', 'lasagne'],\n"
                    "      classifiers=['Programming Language :: Python :: 2.7'])\n",
        "setup.cfg": "[options]\ninstall_requires =\n    six<2\n    numpy\npython_requires = >=2.7,<3\n",
        "old.py": "import theano\nprint 'x'\nimport lasagne.layers, numpy as np\n",
        "LICENSE": "",
    })
    facts = collect_repo_facts(tmp_path)
    assert facts["dependency_declaration"] == ["setup.py", "setup.cfg"]
    assert facts["dependencies"] == {"total": 4, "pinned": 1, "bounded": 2, "unbounded": 2}
    assert facts["python_versions"] == {"requires_python": ">=2.7,<3", "classifiers": ["2.7"], "conda": None}
    assert facts["frameworks"] == ["theano", "lasagne", "numpy"]
    assert facts["py3_syntax_errors"] == 2
    assert (facts["license"], facts["license_file"]) == ("unknown", "LICENSE")
    assert facts["last_commit_date"] is None and facts["commits_last_year"] is None  # not a git checkout


def test_no_licence_no_declaration(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "import os\n"})
    facts = collect_repo_facts(tmp_path)
    assert (facts["license"], facts["license_file"]) == ("none", None)
    assert facts["dependency_declaration"] == [] and facts["dependencies"]["total"] == 0
    assert facts["frameworks"] == []


@pytest.mark.parametrize(("spec", "strictness"), [
    ("numpy==1.2.3", "pinned"), ("numpy===1.2", "pinned"), ("numpy==1.*", "bounded"),
    ("numpy~=1.2", "bounded"), ("numpy<2", "bounded"), ("numpy>=1,<=2", "bounded"),
    ("numpy>=1.2", "unbounded"), ("numpy", "unbounded"), ("numpy!=1.3", "unbounded"),
    ("lib @ git+https://github.com/a/b.git@abc123", "pinned"),
    ("lib @ https://x.org/lib.tar.gz", "unbounded"),
    ("numpy==1.2; python_version<'3'", "pinned"),
])
def test_pep508_strictness(spec: str, strictness: str) -> None:
    assert _strictness_pep508(spec) == strictness


def test_conda_and_poetry_strictness() -> None:
    assert [_strictness_conda(s) for s in ("", "=1.19", "==1.19.2", "=1.19.2=py38_0", ">=1", "1.19.2")] == \
        ["unbounded", "bounded", "pinned", "pinned", "unbounded", "pinned"]
    poetry_specs = ("^1.2", "~1.2", "1.2.3", "*", ">=1,<2", {"version": "==2.0"})
    assert [_strictness_poetry(v) for v in poetry_specs] == \
        ["bounded", "bounded", "pinned", "unbounded", "bounded", "pinned"]


def test_walk_is_capped(tmp_path: Path) -> None:
    write(tmp_path, {f"pkg/m{i}.py": "import torch\n" for i in range(30)})
    tree = walk(tmp_path, max_entries=10)
    assert tree.truncated is True and len(tree.files) == 10
