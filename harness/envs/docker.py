"""The ``docker`` backend: one image per library spec, built from templates, runs in a sandbox.

Build (``DockerBackend.build``): choose a base image for the library's Python (``harness.images``),
render the Dockerfile (``harness.envs.dockerfile``), build its ``prepared`` stage without network,
then run the install phase in a container with host networking, the host's CA bundle and
package-index settings (local find-links and ``file://`` indexes mounted read-only), and commit it
as ``harness-env/<library>:<version>-py<X.Y>-<key>``. An image whose tag exists is reused. A failed
build leaves nothing behind: its containers and the images it made are removed.

Run (``DockerBackend.run``): the committed image runs with no network, as an unprivileged user, a
read-only root, a writable work dir and a tmpfs ``/tmp``, all capabilities dropped, and the
profile's limits on memory (no swap), CPUs and pids, plus the timeout. Host paths the command
refers to (script, data, PYTHONPATH entries, a checkout used as working directory) are mounted
read-only under ``/host``; the work dir (``HARNESS_WORK_DIR``) is mounted read-write at ``/work``.
The in-container runner (``containers/run.sh``) keeps the container alive after the command exits,
so peak memory (``memory.max_usage_in_bytes``), CPU time (``cpuacct.usage``) and OOM kills are
read from the container's cgroup before it is removed (the kernel drops the cgroup as soon as the
last process exits). Timeouts and interruptions (SIGINT, SIGTERM) kill and remove the container.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import gpu, images
from harness.classify import classify_build
from harness.config import Settings
from harness.envs import dockerfile as df
from harness.envs.base import BuiltEnv, EnvSpec, Limits, ProcessResult
from harness.errors import BackendUnavailable, BuildError, UsageError
from harness.filelock import locked
from harness.manifest import Manifest
from harness.measure import OUTPUT_CAP

BUILD_TIMEOUT_S = 1800.0
HOST_ROOT = "/host"  # where host paths appear inside run containers
CONTAINER_CA = "/etc/ssl/certs/ca-certificates.crt"
STATUS_DIR = "/run/harness-status"
DEFAULT_PIDS = 4096  # the sandbox's pid limit when the profile sets none
TMPFS_SIZE = "1g"
POLL_MIN_S, POLL_MAX_S = 0.02, 0.25
HOLD_S = 600  # how long the runner keeps a finished container for the harness to read its cgroup
DEADLINE_GRACE_S = 60  # the runner's own backstop kills the command this long after the timeout
# Host paths never mounted into a run container, whatever a command names.
_DENY = ("/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr",
         "/var", "/var/run", "/var/lib/docker")
_VERSION_LINE = re.compile(r"harness: installing into \S+ (\d+\.\d+\.\d+)")
_LAYER_ID = re.compile(r"---> ([0-9a-f]{12})\b")


# ------------------------------------------------------------------------------------------ cgroups

def _field(text: str, name: str) -> int | None:
    """The number after ``name`` in a cgroup key-value file (``oom_kill 3``), or None."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name and parts[1].isdigit():
            return int(parts[1])
    return None


@dataclass
class Cgroup:
    """The cgroup directories of one container (cgroup v1 controllers, or the v2 unified dir)."""

    memory: Path | None = None
    cpu: Path | None = None
    v2: bool = False
    peak_bytes: int = 0  # the highest value seen so far (survives the cgroup)
    cpu_ns: int = 0
    oom_kills: int = 0
    pids: list[int] = field(default_factory=list)

    @classmethod
    def find(cls, container_id: str, pid: int | None, root: Path = Path("/sys/fs/cgroup")) -> Cgroup:
        rel: dict[str, str] = {}
        if pid:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
                    _, controllers, path = line.split(":", 2)
                    for c in controllers.split(",") if controllers else ["unified"]:
                        rel[c] = path.lstrip("/")
        if (root / "cgroup.controllers").exists():  # v2
            for cand in (root / rel.get("unified", "-"), root / "docker" / container_id,
                         root / "system.slice" / f"docker-{container_id}.scope"):
                if (cand / "memory.current").exists():
                    return cls(memory=cand, cpu=cand, v2=True)
            return cls(v2=True)

        def pick(controller: str, *alts: str) -> Path | None:
            for name in (controller, *alts):
                base = root / name
                for cand in (base / rel.get(controller, "-"), base / "docker" / container_id):
                    if cand.is_dir() and cand != base:
                        return cand
            return None

        return cls(memory=pick("memory"), cpu=pick("cpuacct", "cpu,cpuacct"))

    def _read(self, path: Path | None, name: str) -> str | None:
        if path is None:
            return None
        try:
            return (path / name).read_text()
        except OSError:
            return None

    def sample(self) -> None:
        """Read the cgroup's peak memory, CPU time, OOM kills and pids (keeping the maxima)."""
        if self.v2:
            peak = self._read(self.memory, "memory.peak") or self._read(self.memory, "memory.current")
            stat = self._read(self.cpu, "cpu.stat") or ""
            usec = _field(stat, "usage_usec")
            cpu = usec * 1000 if usec is not None else None
            ooms = _field(self._read(self.memory, "memory.events") or "", "oom_kill")
        else:
            peak = self._read(self.memory, "memory.max_usage_in_bytes")
            raw_cpu = self._read(self.cpu, "cpuacct.usage")
            cpu = int(raw_cpu) if raw_cpu and raw_cpu.strip().isdigit() else None
            ooms = _field(self._read(self.memory, "memory.oom_control") or "", "oom_kill")
        if peak and peak.strip().isdigit():
            self.peak_bytes = max(self.peak_bytes, int(peak))
        if cpu is not None:
            self.cpu_ns = max(self.cpu_ns, cpu)
        if ooms is not None:
            self.oom_kills = max(self.oom_kills, ooms)
        procs = self._read(self.memory, "cgroup.procs")
        if procs:
            self.pids = [int(p) for p in procs.split()]

    @property
    def how(self) -> dict[str, str]:
        if self.memory is None:
            return {"rss": "not measured: the container's cgroup was not found",
                    "cpu": "not measured: the container's cgroup was not found"}
        if self.v2:
            return {"rss": "cgroup v2 memory.peak of the container (the kernel's exact high-water mark)",
                    "cpu": "cgroup v2 cpu.stat usage_usec of the container"}
        return {"rss": "cgroup v1 memory.max_usage_in_bytes of the container (the kernel's exact "
                       "high-water mark, page cache included)",
                "cpu": "cgroup v1 cpuacct.usage of the container (every process, user+system)"}


# ------------------------------------------------------------------------------------- host paths

def _denied(path: str) -> bool:
    return path in _DENY or path.startswith(("/proc/", "/sys/", "/dev/", "/run/", "/var/run/"))


@dataclass
class PathMap:
    """Host paths mounted into a run container, and the translation of strings that name them."""

    binds: dict[str, tuple[str, str]] = field(default_factory=dict)  # host -> (container path, mode)

    def add(self, host: str, mode: str, target: str | None = None) -> None:
        host = os.path.normpath(host)
        if _denied(host) or host.startswith(df.IMAGE_PATHS):
            return
        current = self.binds.get(host)
        if current is not None and (current[1] == "rw" or mode == "ro"):
            return
        self.binds[host] = (target or HOST_ROOT + host, mode)

    def candidate(self, value: str) -> None:
        """Mount (read-only) every absolute, existing host path inside an argument or a path list."""
        for part in value.split(os.pathsep):
            if part.startswith("/") and not part.startswith(df.IMAGE_PATHS) and os.path.exists(part):
                self.add(os.path.realpath(part) if os.path.islink(part) else part, "ro")

    def translate(self, value: str) -> str:
        """Replace host paths by their container paths (one pass, longest first, whole path components)."""
        if not self.binds:
            return value
        hosts = sorted(self.binds, key=len, reverse=True)
        pattern = r"(?<![^\s:='\"])(" + "|".join(map(re.escape, hosts)) + r")(?=$|[/:\s'\"])"
        return re.sub(pattern, lambda m: self.binds[m.group(1)][0], value)

    def volumes(self) -> dict[str, dict[str, str]]:
        hosts = sorted(self.binds)
        out: dict[str, dict[str, str]] = {}
        for host in hosts:
            target, mode = self.binds[host]
            covered = any(host.startswith(other + "/") and self.binds[other][1] == "ro" and mode == "ro"
                          and target == HOST_ROOT + host for other in hosts if other != host)
            if not covered:
                out[host] = {"bind": target, "mode": mode}
        return out


def _local_path(link: str) -> str | None:
    if link.startswith("file://"):
        return link[len("file://"):] or None
    if "://" in link:
        return None
    return link


def install_mounts(spec: EnvSpec, settings: Settings) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Volumes and index environment of the install phase: local links/indexes read-only, the CA bundle."""
    volumes: dict[str, dict[str, str]] = {}
    links: list[str] = []
    for i, link in enumerate(dict.fromkeys((*spec.find_links, *settings.find_links))):
        local = _local_path(link)
        if local is None:
            links.append(link)
        elif os.path.exists(local):
            target = f"/opt/harness-links/{i}"
            volumes[os.path.realpath(local)] = {"bind": target, "mode": "ro"}
            links.append(target)

    def index(url: str, i: int) -> str | None:
        local = _local_path(url) if url.startswith("file://") else None
        if local is None:
            return url
        path = Path(local.rstrip("/"))
        if not path.exists():
            return None
        target = f"/opt/harness-index/{i}"  # the parent too: simple indexes link to ../../files/
        volumes[str(path.parent.resolve())] = {"bind": target, "mode": "ro"}
        return f"file://{target}/{path.name}"

    index_url = index(settings.index_url, 0) if settings.index_url else None
    extras = tuple(u for i, url in enumerate(settings.extra_index_urls, 1) if (u := index(url, i)))
    ca = settings.ca_bundle if settings.ca_bundle and os.path.isfile(settings.ca_bundle) else None
    if ca is None and os.path.isfile(CONTAINER_CA):
        ca = CONTAINER_CA
    if ca is not None:
        volumes[os.path.realpath(ca)] = {"bind": CONTAINER_CA, "mode": "ro"}
    mapped = Settings(index_url=index_url, extra_index_urls=extras, find_links=tuple(links),
                      ca_bundle=CONTAINER_CA if ca else None)
    env = mapped.index_env()
    env.pop("UV_FIND_LINKS", None)  # pip runs inside; keep the environment small and readable
    return volumes, env


# -------------------------------------------------------------------------------------- backend

def _mounts(volumes: dict[str, dict[str, str]]) -> list[Any]:
    """Bind mounts as ``Mount`` objects (``volumes=`` would turn into VOLUMEs of a committed image)."""
    import docker

    return [docker.types.Mount(target=v["bind"], source=host, type="bind", read_only=v["mode"] == "ro")
            for host, v in volumes.items()]


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a container runs, SIGTERM raises KeyboardInterrupt (so the container is removed) where
    nobody else handles SIGTERM; only possible in the main thread."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _remove_container(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True, v=True)


class DockerBackend:
    """Environments as Docker images; runs as sandboxed containers measured from their cgroups."""

    kind = "docker"

    def __init__(self, python: str | None = None, client: Any | None = None) -> None:
        if python is not None and not re.fullmatch(r"3\.\d{1,2}", python):
            raise UsageError(f"--python: expected a version like 3.11, not '{python}'")
        self.python = python  # a requested X.Y (``--python``); None: the best base for the specifier
        self._client = client

    # -- availability ------------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            self._client = images.docker_client()
        return self._client

    def unavailable_reason(self) -> str | None:
        try:
            self.client()
        except BackendUnavailable as exc:
            return str(exc)
        return None

    def installer(self, settings: Settings) -> str:
        """Images are filled with the venv's own pip (uv is not in the base images)."""
        return "pip"

    # -- planning (pure apart from listing the base images) ----------------------------------------
    def bases(self, settings: Settings, device: str) -> list[images.BaseImage]:
        client = self.client() if settings.docker_base == "local" else None
        return images.available_bases(client, settings.docker_base, gpu=device == "gpu")

    def plan(self, spec: EnvSpec, checkout: Path | None, settings: Settings,
             bases: list[images.BaseImage] | None = None) -> df.ImagePlan:
        if bases is None:
            bases = self.bases(settings, spec.device)
        base = images.choose_base(spec.python, bases, requested=self.python, docker_base=settings.docker_base)
        return df.plan_image(spec, base, has_checkout=checkout is not None,
                             templates_dir=settings.containers_dir)

    # -- build -------------------------------------------------------------------------------------
    def build(
        self, spec: EnvSpec, checkout: Path | None, settings: Settings, *, artifact: Path | None = None
    ) -> BuiltEnv:
        # ``artifact`` is not used yet: the install phase resolves the spec's ``name==version`` pin from
        # the user's indexes inside the container (the venv backend installs the fetched file itself).
        client = self.client()
        if spec.device == "gpu" and not gpu.has_gpu():
            # never build a CUDA image (gigabytes of CUDA wheels) on a host that cannot run it
            raise BuildError(f"no GPU on this host: {gpu.gpu_note()}", failure_class="cuda-unavailable",
                             hint="run with --device cpu, or on a host with an NVIDIA GPU and driver")
        plan = self.plan(spec, checkout, settings)
        with locked(settings.cache_dir / "docker" / f"{plan.key}.lock"):
            if images.image_exists(client, plan.tag):
                return self._built(plan, client, cached=True, log=f"reused image {plan.tag}")
            started = time.perf_counter()
            log, peak = self._build_fresh(plan, spec, checkout, settings, client)
            return self._built(plan, client, cached=False, log=log, build_s=time.perf_counter() - started,
                               peak=peak)

    def _built(self, plan: df.ImagePlan, client: Any, *, cached: bool, log: str, build_s: float = 0.0,
               peak: int | None = None) -> BuiltEnv:
        labels = client.images.get(plan.tag).labels or {}
        return BuiltEnv(kind=self.kind, fingerprint=plan.fingerprint, location=plan.tag,
                        python=f"{df.VENV}/bin/python",
                        python_version=labels.get(images.PYTHON_LABEL, plan.base.python), cached=cached,
                        log=log, build_s=build_s, peak_rss_bytes=peak)

    def _build_fresh(self, plan: df.ImagePlan, spec: EnvSpec, checkout: Path | None, settings: Settings,
                     client: Any) -> tuple[str, int | None]:
        prepared = f"{plan.tag}-prepared"
        log: list[str] = []
        work = settings.cache_dir / "docker"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="context-", dir=work) as ctx:
            root = Path(ctx)
            (root / "Dockerfile").write_text(plan.dockerfile)
            for rel, text in plan.files.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
            if checkout is not None:
                shutil.copytree(checkout, root / "src", symlinks=True)
            self._build_prepared(plan, root, prepared, client, log)
        try:
            peak = self._install(plan, spec, settings, prepared, client, log)
        finally:
            with contextlib.suppress(Exception):
                client.images.remove(prepared, noprune=False)  # the committed image keeps the layers it needs
        return "\n".join(log), peak

    def _build_prepared(self, plan: df.ImagePlan, context: Path, tag: str, client: Any,
                        log: list[str]) -> None:
        import docker

        made: list[str] = []
        error = ""
        try:
            for chunk in client.api.build(
                path=str(context), tag=tag, target="prepared", rm=True, forcerm=True, decode=True,
                network_mode="host" if plan.base.install_python else "none", pull=False,
                labels={images.MANAGED_LABEL: "1", images.KIND_LABEL: "build"},
            ):
                text = str(chunk.get("stream", ""))
                if text.strip():
                    log.append(text.rstrip())
                    made += _LAYER_ID.findall(text)
                if "error" in chunk:
                    error = str(chunk["error"]).strip()
        except docker.errors.APIError as exc:
            error = str(exc)
        if error:
            log.append(error)
            self._remove_layers(client, made)
            c = classify_build("\n".join(log))
            failure_class = c.failure_class if "pull access denied" not in error else "network"
            raise BuildError(f"image build failed: {error[:300]}", failure_class=failure_class,
                             hint=c.hint, log_tail=_tail("\n".join(log)))

    @staticmethod
    def _remove_layers(client: Any, ids: list[str]) -> None:
        """Remove the untagged images a failed build made (tagged ones, such as bases, are kept)."""
        for image_id in reversed(ids):
            with contextlib.suppress(Exception):
                if not client.images.get(image_id).tags:
                    client.images.remove(image_id, noprune=False)

    def _install(self, plan: df.ImagePlan, spec: EnvSpec, settings: Settings, prepared: str, client: Any,
                 log: list[str]) -> int | None:
        import requests

        volumes, env = install_mounts(spec, settings)
        command = ["env", *(f"{k}={v}" for k, v in sorted(env.items())), "sh", f"{df.ETC}/{df.INSTALL_NAME}"]
        container = client.containers.create(
            prepared, command=command, user="0", network_mode="host", mounts=_mounts(volumes),
            labels={images.MANAGED_LABEL: "1", images.KIND_LABEL: "install"},
        )
        cgroup = Cgroup()
        try:
            container.start()
            container.reload()
            cgroup = Cgroup.find(container.id, container.attrs["State"].get("Pid"))
            deadline = time.monotonic() + BUILD_TIMEOUT_S
            status: int | None = None
            while status is None:
                cgroup.sample()
                try:
                    status = int(container.wait(timeout=1.0)["StatusCode"])
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    if time.monotonic() > deadline:
                        container.kill()
                        output = container.logs().decode(errors="replace")
                        log.append(output)
                        raise BuildError(f"the install phase timed out after {BUILD_TIMEOUT_S:.0f} s",
                                         failure_class="timeout", hint="a package is probably compiling; "
                                         "pin one with a wheel", log_tail=_tail("\n".join(log))) from None
            output = container.logs().decode(errors="replace")
            log.append(output.rstrip())
            if status != 0:
                c = classify_build(output, spec.constraints)
                raise BuildError(c.message, failure_class=c.failure_class, hint=c.hint,
                                 log_tail=_tail("\n".join(log)))
            found = _VERSION_LINE.search(output)
            python = found.group(1) if found else plan.base.python
            repository, _, tag = plan.tag.rpartition(":")
            labels = {images.MANAGED_LABEL: "1", images.KIND_LABEL: "env", images.PYTHON_LABEL: python,
                      f"{images.LABEL}.library": spec.library, f"{images.LABEL}.spec": plan.fingerprint,
                      f"{images.LABEL}.device": spec.device, f"{images.LABEL}.base": plan.base.ref}
            container.commit(repository=repository, tag=tag, changes=[
                f"USER {df.USER_NAME}", f"WORKDIR {df.WORK}", 'CMD ["python"]',
                "LABEL " + " ".join(f'{k}="{v}"' for k, v in labels.items()),
            ])
        finally:
            _remove_container(container)
        return cgroup.peak_bytes or None

    # -- run ---------------------------------------------------------------------------------------
    def run(
        self,
        env: BuiltEnv,
        argv: list[str],
        *,
        cwd: Path,
        env_vars: dict[str, str],
        timeout_s: float,
        limits: Limits,
        mounts: dict[Path, str] | None = None,
    ) -> ProcessResult:
        client = self.client()
        paths = PathMap()
        # the work dir is the one writable place; any other cwd (a git checkout) is read-only
        work = env_vars.get("HARNESS_WORK_DIR") or str(cwd)
        paths.add(work, "rw", df.WORK)
        paths.add(str(cwd), "ro")
        for mount_path, how in (mounts or {}).items():
            paths.add(str(mount_path), "rw" if how == "rw" else "ro", how if how.startswith("/") else None)
        for value in [*argv, *env_vars.values()]:
            paths.candidate(value)
        run_user = f"{df.USER_UID}:{df.USER_UID}" if os.geteuid() == 0 else f"{os.getuid()}:{os.getgid()}"
        if os.geteuid() == 0:
            for host, (_, mode) in paths.binds.items():
                if mode == "rw" and os.path.isdir(host):
                    os.chown(host, df.USER_UID, df.USER_UID)
        argv = ["python" if a == "python" else paths.translate(a) for a in argv]
        device = env_vars.get("HARNESS_DEVICE", "cpu")
        use_gpu = device == "gpu" and limits.gpu
        with tempfile.TemporaryDirectory(prefix="harness-status-") as status_dir:
            os.chmod(status_dir, 0o777)
            volumes = paths.volumes() | {status_dir: {"bind": STATUS_DIR, "mode": "rw"}}
            container_env = {k: paths.translate(v) for k, v in env_vars.items()} | {
                "HOME": "/tmp", "HARNESS_STATUS_DIR": STATUS_DIR, "PYTHONDONTWRITEBYTECODE": "1",
                "HARNESS_HOLD_S": str(HOLD_S), "HARNESS_DEADLINE_S": str(int(timeout_s + DEADLINE_GRACE_S)),
            }
            kwargs: dict[str, Any] = {
                "command": ["sh", df.RUNNER, *argv],
                "user": run_user,
                "working_dir": paths.translate(str(cwd)),
                "environment": container_env,
                "network_mode": "none",
                "read_only": True,
                "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={TMPFS_SIZE},mode=1777"},
                "mounts": _mounts(volumes),
                "cap_drop": ["ALL"],
                "security_opt": ["no-new-privileges"],
                "pids_limit": limits.pids or DEFAULT_PIDS,
                "labels": {images.MANAGED_LABEL: "1", images.KIND_LABEL: "run"},
                "stdin_open": False,
            }
            if limits.memory_bytes:
                kwargs |= {"mem_limit": limits.memory_bytes, "memswap_limit": limits.memory_bytes}
            if limits.cpus:
                kwargs["nano_cpus"] = int(limits.cpus * 1e9)
            if use_gpu:
                import docker

                kwargs["device_requests"] = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
            return self._run_container(client, env.location, kwargs, Path(status_dir), timeout_s, limits,
                                       use_gpu)

    def _run_container(self, client: Any, image: str, kwargs: dict[str, Any], status_dir: Path,
                       timeout_s: float, limits: Limits, use_gpu: bool) -> ProcessResult:
        with _terminate_as_interrupt():
            return self._run_container_now(client, image, kwargs, status_dir, timeout_s, limits, use_gpu)

    def _run_container_now(self, client: Any, image: str, kwargs: dict[str, Any], status_dir: Path,
                           timeout_s: float, limits: Limits, use_gpu: bool) -> ProcessResult:
        container = client.containers.create(image, **kwargs)
        exit_file = status_dir / "exit"
        cgroup = Cgroup()
        peak_gpu: int | None = None
        timed_out = False
        exit_code: int | None = None
        wall = 0.0
        try:
            container.start()
            started = time.monotonic()
            container.reload()
            cgroup = Cgroup.find(container.id, container.attrs["State"].get("Pid"))
            interval, last_status = POLL_MIN_S, started
            while True:
                cgroup.sample()
                if use_gpu and cgroup.pids:
                    used = gpu.memory_of_pids(cgroup.pids)
                    if used is not None:
                        peak_gpu = max(peak_gpu or 0, used)
                if exit_file.exists():
                    rc, t0, t1 = exit_file.read_text().split()
                    exit_code, wall = int(rc), (int(t1) - int(t0)) / 1e9
                    break
                now = time.monotonic()
                if now - started > timeout_s:
                    timed_out, wall = True, now - started
                    break
                if now - last_status > 1.0:  # the runner itself died (killed, OOM)?
                    last_status = now
                    container.reload()
                    if container.status not in ("created", "running"):
                        state = container.attrs["State"]
                        exit_code, wall = int(state.get("ExitCode", -1)), now - started
                        cgroup.oom_kills = max(cgroup.oom_kills, int(bool(state.get("OOMKilled"))))
                        break
                time.sleep(interval)
                interval = min(POLL_MAX_S, interval * 1.5)
            cgroup.sample()
            stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")[-OUTPUT_CAP:]
            stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")[-OUTPUT_CAP:]
        finally:
            with contextlib.suppress(Exception):
                container.kill()
            _remove_container(container)
        oom = cgroup.oom_kills > 0
        how = cgroup.how | {
            "method": "cgroup",
            "gpu": ("summed NVML per-process memory of the container's pids, sampled" if use_gpu
                    else "not measured (GPU not used by this run)"),
            "wall": "the in-container runner's clock around the command (container start excluded)",
            "sandbox": "docker: no network, read-only root, non-root user, all capabilities dropped",
        }
        if limits.memory_bytes:
            how["memory_limit"] = f"cgroup memory limit {limits.memory_bytes} bytes, no swap (OOM killer)"
        if limits.cpus:
            how["cpu_limit"] = f"cgroup CPU quota of {limits.cpus:g} CPU(s)"
        if timed_out:
            stderr += f"\nharness: killed after {timeout_s:.1f} s (container removed)"
        return ProcessResult(
            exit_code=None if timed_out else exit_code, wall_s=wall, cpu_s=cgroup.cpu_ns / 1e9,
            peak_rss_bytes=cgroup.peak_bytes or None, peak_gpu_bytes=peak_gpu, timed_out=timed_out,
            oom_killed=oom, stdout=stdout, stderr=stderr, how=how,
        )


def assumed_bases() -> list[images.BaseImage]:
    """The bases ``.ci/docker-setup.sh`` bootstraps, for planning where no engine answers (``--dry-run``)."""
    return [images.BaseImage(ref=images.base_tag(r), python=images.DEBIAN_RELEASES[r], origin="bootstrap",
                             release=r) for r in images.DEFAULT_RELEASES]


def dry_run(spec: EnvSpec, *, has_checkout: bool, settings: Settings, python: str | None = None) -> str:
    """The tag, Dockerfile and install phase ``build`` would use for a spec; nothing is built.

    Uses the engine's real base images when one answers, else the default bootstrap releases.
    """
    backend = DockerBackend(python=python)
    if settings.docker_base == "registry":
        bases = images.registry_bases(spec.device == "gpu")
        note = ""
    elif backend.unavailable_reason() is None:
        bases, note = backend.bases(settings, spec.device), ""
    else:
        bases = assumed_bases()
        note = "# no Docker engine answered: planned on the default bootstrap bases\n"
    base = images.choose_base(spec.python, bases, requested=python, docker_base=settings.docker_base)
    plan = df.plan_image(spec, base, has_checkout=has_checkout, templates_dir=settings.containers_dir)
    return note + df.dry_run_text(plan)


def dry_run_manifest(manifest: Manifest, settings: Settings, *, device: str = "cpu", profile: str = "default",
                     python: str | None = None) -> str:
    """The plan for a manifest (tag, Dockerfile, install phase), without fetching or building anything."""
    from harness.envs.profiles import get_profile
    from harness.pipeline import env_spec, resolve_device

    spec = env_spec(manifest, settings, resolve_device(device, get_profile(profile)), "pip")
    return dry_run(spec, has_checkout=manifest.source.kind == "git", settings=settings, python=python)


def print_dry_run(settings: Settings, slug: str, *, backend: str, device: str = "cpu",
                  profile: str = "default", python: str | None = None) -> None:
    """``harness evaluate --lib SLUG --backend docker --dry-run``: the plan on stdout."""
    import sys

    from harness.manifest import find_manifest

    if backend != "docker":
        raise UsageError("--dry-run: only the docker backend plans an image; add --backend docker")
    manifest = find_manifest(slug, settings.manifests_dir)
    sys.stdout.write(dry_run_manifest(manifest, settings, device=device, profile=profile, python=python))
