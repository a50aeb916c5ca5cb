"""User settings: where things live and how package indexes, CA bundles and git mirrors are reached.

Read once from (lowest to highest precedence) built-in defaults, the config file
(``$HARNESS_CONFIG`` or ``~/.config/iot-attack-harness/config.yaml``), and environment variables.
Package-index settings fall back to the user's pip/uv variables so that mirrors and proxies that
already work for pip keep working inside every environment the harness builds.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from harness.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    """A top-level project folder, from the source tree or from the installed wheel."""
    in_tree = PROJECT_ROOT / name
    return in_tree if in_tree.is_dir() else PACKAGE_DIR / "_shipped" / name


def _split(value: str | None) -> list[str]:
    return shlex.split(value) if value else []


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iot-attack-harness"


@dataclass(frozen=True)
class Settings:
    cache_dir: Path = field(default_factory=_default_cache)
    manifests_dir: Path = field(default_factory=lambda: _shipped("library_manifests"))
    containers_dir: Path = field(default_factory=lambda: _shipped("containers"))
    results_dir: Path = field(default_factory=lambda: Path("results"))
    reports_dir: Path = field(default_factory=lambda: Path("reports"))
    data_dir: Path = field(default_factory=lambda: PACKAGE_DIR / "data")  # data shipped with the harness
    data_cache: Path | None = None  # user-filled cache of larger declared datasets
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    ca_bundle: str | None = None
    constraints: tuple[Path, ...] = ()  # constraint files applied to every environment
    git_mirror: str | None = None  # template with {owner} {name}, e.g. /srv/mirrors/{owner}+{name}.git
    git_allow_file: bool = False  # allow the file:// transport (mirrors, tests)
    installer: str = "uv"  # "uv" or "pip"
    docker_base: str = "local"  # docker FROM: "local" (bootstrapped Debian) or "registry" (python:X.Y-slim)
    # Matched sets of pins for this host, applied when a manifest's requirements name the key package:
    # e.g. {"torchvision": ("torch==2.14.1", "torchvision==0.29.1")} where the only torchvision that
    # works needs another torch than the CPU one the base constraints pin. Replaces base pins per package.
    constraint_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def envs_dir(self) -> Path:
        return self.cache_dir / "envs"

    @property
    def sources_dir(self) -> Path:
        return self.cache_dir / "sources"

    def with_overrides(self, **kw: object) -> Settings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})  # type: ignore[arg-type]

    def index_env(self) -> dict[str, str]:
        """Environment variables that make pip and uv use the same indexes, links, CA and constraints."""
        env: dict[str, str] = {}
        if self.ca_bundle:
            env |= {"SSL_CERT_FILE": self.ca_bundle, "PIP_CERT": self.ca_bundle,
                    "REQUESTS_CA_BUNDLE": self.ca_bundle}
        if self.index_url:
            env |= {"PIP_INDEX_URL": self.index_url, "UV_DEFAULT_INDEX": self.index_url}
        if self.extra_index_urls:
            joined = " ".join(self.extra_index_urls)
            env |= {"PIP_EXTRA_INDEX_URL": joined, "UV_INDEX": joined}
        if self.find_links:
            env |= {"PIP_FIND_LINKS": " ".join(self.find_links), "UV_FIND_LINKS": ",".join(self.find_links)}
        return env


def _pip_config() -> dict[str, str]:
    """The ``[global]`` section of the user's pip config files (pip's own lookup order, lowest first)."""
    import configparser

    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"),
             Path.home() / ".pip" / "pip.conf", Path.home() / ".config" / "pip" / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    parser = configparser.ConfigParser()
    parser.read([str(f) for f in files if f.is_file()])
    return dict(parser["global"]) if parser.has_section("global") else {}


def load_settings(config_file: Path | None = None) -> Settings:
    env = os.environ
    default_config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "iot-attack-harness" / "config.yaml"
    path = config_file or Path(env.get("HARNESS_CONFIG") or default_config)
    data: dict[str, object] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: (yaml): {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{path}: (top level): must be a mapping")
        data = loaded
    known = set(Settings.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise UsageError(f"{path}: {key}: unknown setting")
    pipc = _pip_config()

    def pick(key: str, *env_names: str, pip_key: str | None = None) -> str | None:
        for name in env_names:
            if env.get(name):
                return env[name]
        if key in data and data[key] is not None:
            value = data[key]
            return " ".join(map(str, value)) if isinstance(value, list) else str(value)
        return pipc.get(pip_key) if pip_key else None

    s = Settings()
    cache = pick("cache_dir", "HARNESS_CACHE_DIR")
    manifests = pick("manifests_dir", "HARNESS_MANIFESTS_DIR")
    data_cache = pick("data_cache", "HARNESS_DATA_CACHE")
    constraints = pick("constraints", "HARNESS_CONSTRAINTS")
    return replace(
        s,
        cache_dir=Path(cache).expanduser() if cache else s.cache_dir,
        manifests_dir=Path(manifests).expanduser() if manifests else s.manifests_dir,
        results_dir=Path(pick("results_dir", "HARNESS_RESULTS_DIR") or s.results_dir),
        reports_dir=Path(pick("reports_dir", "HARNESS_REPORTS_DIR") or s.reports_dir),
        data_cache=Path(data_cache).expanduser() if data_cache else None,
        index_url=pick("index_url", "HARNESS_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL",
                       pip_key="index-url"),
        extra_index_urls=tuple(_split(pick("extra_index_urls", "HARNESS_EXTRA_INDEX_URLS", "PIP_EXTRA_INDEX_URL",
                                           pip_key="extra-index-url"))),
        find_links=tuple(_split(pick("find_links", "HARNESS_FIND_LINKS", "PIP_FIND_LINKS", pip_key="find-links"))),
        ca_bundle=pick("ca_bundle", "HARNESS_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE",
                       pip_key="cert"),
        constraints=tuple(Path(p).expanduser() for p in _split(constraints)),
        git_mirror=pick("git_mirror", "HARNESS_GIT_MIRROR"),
        git_allow_file=(pick("git_allow_file", "HARNESS_GIT_ALLOW_FILE") or "").lower() in {"1", "true", "yes"},
        installer=pick("installer", "HARNESS_INSTALLER") or "uv",
        docker_base=pick("docker_base", "HARNESS_DOCKER_BASE") or "local",
        constraint_groups=_constraint_groups(path, data.get("constraint_groups"), env.get("HARNESS_CONSTRAINT_GROUPS")),
    )


def _constraint_groups(path: Path, value: object, env_json: str | None) -> dict[str, tuple[str, ...]]:
    """``constraint_groups`` from the config file, or HARNESS_CONSTRAINT_GROUPS as a JSON object."""
    import json

    where = f"{path}: constraint_groups"
    if env_json:
        where = "HARNESS_CONSTRAINT_GROUPS"
        try:
            value = json.loads(env_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not valid JSON: {exc.msg}") from None
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in value.items()
    ):
        raise UsageError(f"{where}: must map a package name to a list of requirement pins")
    return {k.lower(): tuple(v) for k, v in value.items()}
