"""How a checkout declares its dependencies and Python versions, read statically (nothing is run).

Declarations looked for at the top level: ``requirements*.txt`` (and ``requirements/*.txt``),
``setup.py`` (its ``install_requires``/``python_requires``/``classifiers`` literals, read with ``ast``,
a regex for Python 2 files), ``setup.cfg``, ``pyproject.toml`` (PEP 621 and Poetry), ``Pipfile`` and
``environment.yml``. The counted dependencies are the runtime ones: ``requirements.txt`` (and what it
includes with ``-r``), ``install_requires``, ``[project] dependencies``, Poetry's dependencies,
Pipfile ``[packages]`` and the conda environment (``python`` and ``pip`` themselves excluded).
A name declared in several places counts once, with its strictest specifier.

Classification of a specifier (a contract with the scorecards):
``pinned``: an exact version (``==1.2.3``, ``===``, conda ``=1.2=build``, Poetry ``1.2.3``, a VCS URL
at a ref); ``bounded``: has an upper bound (``<``, ``<=``, ``~=``, ``==1.*``, conda ``=1.2``, Poetry
``^``/``~``) *or is pinned*; ``unbounded``: the rest (``>=`` only, none, a plain URL).
So ``pinned <= bounded`` and ``bounded + unbounded == total``.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from collections.abc import Iterable
from typing import Any, Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from harness.facts.tree import Tree

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: TOML files are read only when tomli is installed
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None


def _load_toml(text: str) -> dict[str, Any]:
    if tomllib is None:  # pragma: no cover
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}

Strictness = Literal["pinned", "bounded", "unbounded"]
_RANK: dict[Strictness, int] = {"unbounded": 0, "bounded": 1, "pinned": 2}
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_CLASSIFIER_RE = re.compile(r"^Programming Language :: Python :: (\d+(?:\.\d+)?)$")


def _strictness_pep508(spec: str) -> Strictness:
    """Strictness of a PEP 508 requirement string (or a line that only has a name)."""
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        return "bounded" if re.search(r"(<|~=|==)", spec) else "unbounded"
    if req.url:
        return "pinned" if re.search(r"@[^/@]+$", req.url.split("#", 1)[0]) else "unbounded"
    ops = {(s.operator, "*" in s.version) for s in req.specifier}
    if any(op in ("==", "===") and not star for op, star in ops):
        return "pinned"
    if any(op in ("<", "<=", "~=") or (op == "==" and star) for op, star in ops):
        return "bounded"
    return "unbounded"


def _name_pep508(spec: str) -> str | None:
    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        m = _NAME_RE.match(spec)
        return canonicalize_name(m.group(1)) if m else None


def _strictness_conda(spec: str) -> Strictness:
    rest = spec.strip()
    if rest.startswith("=="):
        return "bounded" if "*" in rest else "pinned"
    if rest.startswith("="):
        return "pinned" if rest.count("=") >= 2 else "bounded"  # =ver=build is exact; =ver is ver.*
    if re.match(r"^\d", rest):  # "numpy 1.19.2" (space form)
        return "bounded" if "*" in rest else "pinned"
    return "bounded" if re.search(r"(<|~=)", rest) else "unbounded"


def _strictness_poetry(value: object) -> Strictness:
    spec = value.get("version", "*") if isinstance(value, dict) else value
    if isinstance(value, dict) and ("git" in value or "path" in value or "url" in value):
        return "pinned" if any(k in value for k in ("rev", "tag")) else "unbounded"
    spec = str(spec).strip()
    if re.fullmatch(r"\d[\w.!+-]*", spec):
        return "pinned"
    if spec.startswith(("^", "~")) and not spec.startswith("~="):
        return "bounded"
    return _strictness_pep508(f"x{spec}") if spec not in ("", "*") else "unbounded"


class Collected:
    """Dependencies by canonical name (strictest specifier wins), and Python-version declarations."""

    def __init__(self) -> None:
        self.deps: dict[str, Strictness] = {}
        self.requires_python: str | None = None
        self.classifiers: set[str] = set()
        self.conda_python: str | None = None

    def add(self, name: str | None, strictness: Strictness) -> None:
        if not name or name in ("python", "pip"):
            return
        if _RANK[strictness] >= _RANK[self.deps.get(name, "unbounded")]:
            self.deps[name] = strictness

    def add_pep508(self, specs: Iterable[str]) -> None:
        for spec in specs:
            self.add(_name_pep508(spec), _strictness_pep508(spec))

    def add_classifiers(self, classifiers: Iterable[str]) -> None:
        for c in classifiers:
            m = _CLASSIFIER_RE.match(str(c).strip())
            if m:
                self.classifiers.add(m.group(1))

    def set_requires_python(self, value: object) -> None:
        if self.requires_python is None and isinstance(value, str) and value.strip():
            self.requires_python = value.strip()

    def counts(self) -> dict[str, int]:
        values = list(self.deps.values())
        bounded = sum(v != "unbounded" for v in values)
        return {"total": len(values), "pinned": values.count("pinned"), "bounded": bounded,
                "unbounded": len(values) - bounded}

    def python_versions(self) -> dict[str, Any]:
        def key(v: str) -> tuple[int, ...]:
            return tuple(int(p) for p in v.split("."))

        return {"requires_python": self.requires_python,
                "classifiers": sorted(self.classifiers, key=key), "conda": self.conda_python}


def requirement_lines(tree: Tree, rel: str, depth: int = 0) -> list[str]:
    """The requirement specifiers of a requirements file, following ``-r`` includes."""
    text = tree.read_text(rel)
    if text is None or depth > 3:
        return []
    base = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    specs: list[str] = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = re.split(r"(^|\s)#", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        include = re.match(r"^(-r|--requirement)[\s=]*(\S+)", line)
        if include:
            specs += requirement_lines(tree, base + include.group(2), depth + 1)
            continue
        editable = re.match(r"^(-e|--editable)\s+(\S+)", line)
        if editable:
            target = editable.group(2)
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", target)
            if egg:
                specs.append(f"{egg.group(1)} @ {target.split('#', 1)[0]}")
            continue
        if line.startswith("-"):
            continue  # --index-url, --find-links, -c ...: not dependencies
        line = re.split(r"\s+--", line, maxsplit=1)[0]  # per-requirement options (--hash=...)
        if re.match(r"^(git\+|hg\+|https?://)", line):
            egg = re.search(r"#egg=([A-Za-z0-9._-]+)", line)
            specs.append(f"{egg.group(1)} @ {line.split('#', 1)[0]}" if egg else line)
        else:
            specs.append(line)
    return specs


def _literal(node: ast.AST | None, assigned: dict[str, ast.AST]) -> Any:
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _setup_py(text: str, out: Collected) -> None:
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        _setup_py_regex(text, out)
        return
    assigned: dict[str, ast.AST] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup":
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            requires = _literal(kw.get("install_requires"), assigned)
            if isinstance(requires, list | tuple):
                out.add_pep508(str(r) for r in requires)
            out.set_requires_python(_literal(kw.get("python_requires"), assigned))
            classifiers = _literal(kw.get("classifiers"), assigned)
            if isinstance(classifiers, list | tuple):
                out.add_classifiers(classifiers)


def _quoted(text: str) -> list[str]:
    return [a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"", text)]


def _setup_py_regex(text: str, out: Collected) -> None:
    m = re.search(r"install_requires\s*=\s*[\[(](.*?)[\])]", text, re.DOTALL)
    if m:
        out.add_pep508(_quoted(m.group(1)))
    m = re.search(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]", text)
    if m:
        out.set_requires_python(m.group(1))
    out.add_classifiers(c for c in _quoted(text) if c.startswith("Programming Language"))


def _setup_cfg(text: str, out: Collected) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return
    if parser.has_option("options", "install_requires"):
        out.add_pep508(s for s in parser.get("options", "install_requires").splitlines() if s.strip())
    if parser.has_option("options", "python_requires"):
        out.set_requires_python(parser.get("options", "python_requires"))
    if parser.has_option("metadata", "classifiers"):
        out.add_classifiers(parser.get("metadata", "classifiers").splitlines())


def _pyproject(text: str, out: Collected) -> None:
    data = _load_toml(text)
    project = data.get("project", {})
    if isinstance(project, dict):
        out.add_pep508(str(s) for s in project.get("dependencies", []) or [])
        out.set_requires_python(project.get("requires-python"))
        out.add_classifiers(project.get("classifiers", []) or [])
    poetry = data.get("tool", {}).get("poetry", {})
    if isinstance(poetry, dict):
        for name, value in (poetry.get("dependencies") or {}).items():
            if name.lower() == "python":
                out.set_requires_python(value if isinstance(value, str) else None)
            else:
                out.add(canonicalize_name(name), _strictness_poetry(value))
        out.add_classifiers(poetry.get("classifiers", []) or [])


def _pipfile(text: str, out: Collected) -> None:
    data = _load_toml(text)
    for name, value in (data.get("packages") or {}).items():
        out.add(canonicalize_name(name), _strictness_poetry(value) if isinstance(value, dict)
                else _strictness_pep508(f"x{value}") if str(value).strip() not in ("", "*") else "unbounded")
    requires = data.get("requires")
    if isinstance(requires, dict) and requires.get("python_version"):
        out.set_requires_python(f"=={requires['python_version']}.*")


def _environment_yml(text: str, out: Collected) -> None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    deps = data.get("dependencies") if isinstance(data, dict) else None
    for dep in deps or []:
        if isinstance(dep, dict):
            out.add_pep508(str(s) for s in dep.get("pip", []) or [])
            continue
        spec = str(dep).split("::", 1)[-1].strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", spec)
        if not m:
            continue
        name, rest = canonicalize_name(m.group(1)), m.group(2).strip()
        if name == "python":  # "=3.8.1=h0371630_1" -> "3.8.1"; ">=3.8" stays as written
            version = rest.lstrip("=").split("=")[0].strip() if rest.startswith("=") else rest
            out.conda_python = version or None
        out.add(name, _strictness_conda(rest))


KINDS = ("requirements.txt", "setup.py", "setup.cfg", "pyproject.toml", "Pipfile", "environment.yml")


def declaration_files(tree: Tree) -> dict[str, list[str]]:
    """Top-level declaration files by kind (``requirements.txt`` covers ``requirements*.txt``)."""
    found: dict[str, list[str]] = {}
    top = tree.top_files()
    for f in top:
        low = f.lower()
        kind = ("requirements.txt" if re.fullmatch(r"requirements[\w.-]*\.txt", low)
                else "environment.yml" if low in ("environment.yml", "environment.yaml")
                else f if f in ("setup.py", "setup.cfg", "pyproject.toml", "Pipfile") else None)
        if kind:
            found.setdefault(kind, []).append(f)
    if "requirements" in tree.top_dirs():
        nested = [f for f in tree.files if re.fullmatch(r"requirements/[^/]+\.txt", f)]
        if nested:
            found.setdefault("requirements.txt", []).extend(nested)
    return {k: sorted(found[k]) for k in KINDS if k in found}


def collect(tree: Tree) -> dict[str, Any]:
    """``dependency_declaration``, ``dependency_files``, ``dependencies`` and ``python_versions``."""
    files = declaration_files(tree)
    out = Collected()
    if "requirements.txt" in tree.top_files():
        out.add_pep508(requirement_lines(tree, "requirements.txt"))
    readers = {"setup.py": _setup_py, "setup.cfg": _setup_cfg, "pyproject.toml": _pyproject,
               "Pipfile": _pipfile, "environment.yml": _environment_yml}
    for kind, reader in readers.items():
        for rel in files.get(kind, []):
            text = tree.read_text(rel)
            if text is not None:
                reader(text, out)
    return {
        "dependency_declaration": list(files),
        "dependency_files": [f for fs in files.values() for f in fs],
        "dependencies": out.counts(),
        "python_versions": out.python_versions(),
    }
