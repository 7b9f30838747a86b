"""Build the SCF package for Python 3.10, and prove it on Python 3.10.

    python -m tools.package build     # dist/function.zip (code + dependencies), dist/layer.zip + dist/code.zip
    python -m tools.package verify    # read-only unzip, isolated Python 3.10, every sample event, Redis, cold start

Everything is resolved and compiled by a real Python 3.10 (PYTHON310, or
python3.10 on PATH, or a pyenv 3.10): pip evaluates environment markers such as
`python_full_version < "3.11.3"` against the interpreter that runs it, whatever
`--python-version` says, so a 3.11 build would leave out what 3.10 needs.
Bytecode is compiled with `--invalidation-mode unchecked-hash`, so the
timestamps SCF gives unzipped files never invalidate it; SCF's code directory
is read-only, so without it every cold start compiles every module.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DIST = ROOT / "dist"
SITE = BUILD / "site"  # the dependencies, resolved and compiled for 3.10
CODE = BUILD / "code"  # src/, compiled for 3.10
FUNCTION = BUILD / "function"  # both: what template.yaml's CodeUri and serverless.yml's src deploy
FUNCTION_ZIP = DIST / "function.zip"
LAYER_ZIP = DIST / "layer.zip"
CODE_ZIP = DIST / "code.zip"
MAX_ZIP_BYTES = 6 * 1024 * 1024
# What SCF's runtime never imports: scripts, tests of dependencies, caches, type stubs.
PRUNED_DIRS = ("bin", "tests", "test", "__pycache__")
PRUNED_SUFFIXES = (".pyi", ".pyc", ".pyo")
# Imported only by an explicit `import pydantic.v1`, which nothing here does.
PRUNED_PACKAGES = ("pydantic/v1",)
COLD_RUNS = 7
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Written under build/ (ignored by git): `make verify-package` leaves the checkout clean; `make bench`
# copies the latest section into bench/RESULTS.md.
RESULTS = BUILD / "verify.md"


class BuildError(SystemExit):
    pass


def python310() -> str:
    """A working Python 3.10: PYTHON310, python3.10 on PATH, or pyenv's."""
    candidates = [os.environ.get("PYTHON310", ""), shutil.which("python3.10") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.10.*/bin/python3.10"), reverse=True)
    for candidate in filter(None, candidates):
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if done.stdout.strip() == "True":
            return candidate
    raise BuildError(
        "package: Python 3.10 is needed (SCF's runtime is Python3.10) and none was found. Install it (pyenv "
        "install 3.10, or your distribution's python3.10) and put it on PATH, or set PYTHON310=/path/to/python3.10"
    )


def run(command: list[str], **kwargs: object) -> None:
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def prune(directory: Path) -> None:
    for package in PRUNED_PACKAGES:
        shutil.rmtree(directory / package, ignore_errors=True)
    for path in sorted(directory.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNED_DIRS and path.parent != directory / "sms_conversion":
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in PRUNED_SUFFIXES:
            path.unlink()


def compile_tree(python: str, directory: Path, runtime_dir: str) -> None:
    """Bytecode next to every module, as SCF's Python 3.10 looks for it; tracebacks name `runtime_dir`."""
    run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", str(directory), "-p", runtime_dir, str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def write_zip(target: Path, *trees: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for tree in trees:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(tree)), ZIP_DATE)
                    info.external_attr = (stat.S_IFREG | 0o644) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes(), compresslevel=9)
    return target.stat().st_size


def build() -> dict[str, int]:
    python = python310()
    for stale in (SITE, CODE, FUNCTION, BUILD / "layer"):  # never the rest of build/ (tccli, the rehearsal, a CA)
        shutil.rmtree(stale, ignore_errors=True)
    # Linux x86_64 wheels for glibc 2.17 (manylinux2014: SCF runs CentOS 7), whatever machine builds.
    run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(SITE), "--platform", "manylinux2014_x86_64", "--implementation", "cp",
         "--python-version", "3.10", "--only-binary=:all:", "-r", str(ROOT / "requirements.txt")],
    )  # fmt: skip
    prune(SITE)
    shutil.copytree(ROOT / "src", CODE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compile_tree(python, SITE, "/var/user")
    compile_tree(python, CODE, "/var/user")
    shutil.copytree(SITE, FUNCTION)
    shutil.copytree(CODE, FUNCTION, dirs_exist_ok=True)
    sizes = {"function.zip": write_zip(FUNCTION_ZIP, FUNCTION)}
    # The layer: dependencies at the zip's root, which SCF unzips to /opt (on PYTHONPATH). Its
    # bytecode names /opt in tracebacks, so it is compiled apart from the function's.
    layer = BUILD / "layer"
    shutil.copytree(SITE, layer, ignore=shutil.ignore_patterns("__pycache__"))
    compile_tree(python, layer, "/opt")
    sizes["layer.zip"] = write_zip(LAYER_ZIP, layer)
    sizes["code.zip"] = write_zip(CODE_ZIP, CODE)
    for name, size in sizes.items():
        print(f"dist/{name}: {size / 1024 / 1024:.2f} MB")
    if sizes["function.zip"] > MAX_ZIP_BYTES:
        raise BuildError(f"package: dist/function.zip is over {MAX_ZIP_BYTES // 1024 // 1024} MB")
    return sizes


# ---- verification on the target interpreter ---------------------------------------------------

# Run by Python 3.10 in isolated mode with nothing but the package on sys.path. It records every
# module compiled from source (SourceLoader.source_to_code runs only when no usable .pyc exists).
_CHILD = r"""
import importlib._bootstrap_external as external, json, os, sys, time
package = sys.argv[1]
sys.path.insert(0, package)
compiled = []
original = external.SourceLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = source_to_code
import index
results = []
for name, event in json.loads(sys.stdin.read()):
    context = {"request_id": "verify-" + name, "time_limit_in_ms": 30000}
    try:
        results.append([name, index.main_handler(event, context)])
    except Exception as exc:
        results.append([name, {"raised": type(exc).__name__, "message": str(exc)}])
print("RESULT " + json.dumps({"results": results, "compiled": [p for p in compiled if p.startswith(package)],
                              "modules": sorted(m for m in ("async_timeout", "redis") if m in sys.modules)}))
"""

_COLD = r"""
import sys
sys.path.insert(0, sys.argv[1])
import index
index.main_handler({"SerialNo": "cold-" + sys.argv[2]}, {"request_id": "cold", "time_limit_in_ms": 30000})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def background(command: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise BuildError(f"verify: {command[0]} did not start")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def read_only_copy(zip_path: Path, without_bytecode: bool = False) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scf-var-user-") as temporary:
        directory = Path(temporary) / "user"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(directory)
        if without_bytecode:
            for cache in list(directory.rglob("__pycache__")):
                shutil.rmtree(cache)
        paths = [*sorted(directory.rglob("*"), reverse=True), directory]
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield directory
        finally:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)


def function_env(emulator_port: int, **extra: str) -> dict[str, str]:
    from emulator import TEMPORARY_KEY

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": tempfile.gettempdir(),
        "SMS_ENDPOINT": f"http://127.0.0.1:{emulator_port}",
        "SMS_SDK_APP_ID": "1400006666",
        "TENCENTCLOUD_SECRETID": TEMPORARY_KEY.secret_id,
        "TENCENTCLOUD_SECRETKEY": TEMPORARY_KEY.secret_key,
        "TENCENTCLOUD_SESSIONTOKEN": TEMPORARY_KEY.token or "",
        "TENCENTCLOUD_RUNENV": "SCF",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    return env


def serve_events(
    python: str, package: Path, events: list[tuple[str, object]], env: dict[str, str]
) -> dict[str, object]:
    done = subprocess.run(
        [python, "-I", "-B", "-c", _CHILD, str(package)],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise BuildError(f"verify: the package failed on Python 3.10:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(lines[-1][len("RESULT ") :])
    return result


def cold_start_ms(python: str, package: Path, env: dict[str, str]) -> float:
    times = []
    for run_number in range(COLD_RUNS):
        started = time.perf_counter()
        subprocess.run([python, "-I", "-B", "-c", _COLD, str(package), str(run_number)], env=env, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# Samples that carry poison on purpose: how many of their messages are skipped.
EXPECTED_SKIPPED = {"eventbridge_batch.json": 1}


def check_answers(results: list[list[object]]) -> list[str]:
    problems = []
    for name, answer in results:
        if not isinstance(answer, dict) or "raised" in answer:
            problems.append(f"{name}: {answer}")
            continue
        status = answer.get("statusCode", answer.get("StatusCode", 200))
        skipped = EXPECTED_SKIPPED.get(str(name), 0)
        if status != 200 or answer.get("Failed", 0) or answer.get("Skipped", 0) != skipped:
            problems.append(f"{name}: {json.dumps(answer)[:300]}")
    return problems


def verify() -> None:
    python = python310()
    if not FUNCTION_ZIP.is_file():
        raise BuildError("verify: build the package first (make package)")
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise BuildError("verify: redis-server is needed (apt-get install redis-server)")
    events = [(path.name, json.loads(path.read_text())) for path in sorted((ROOT / "events").glob("*.json"))]
    emulator_port, redis_port = free_port(), free_port()
    emulator = [sys.executable, "-m", "emulator", "--port", str(emulator_port)]
    redis = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with background(emulator, emulator_port), background(redis, redis_port), read_only_copy(FUNCTION_ZIP) as package:
        env = function_env(emulator_port)
        plain = serve_events(python, package, events, env)
        with_redis = serve_events(
            python, package, [("direct.json (REDIS_URL)", {"SerialNo": "5000:verify-redis"})],
            function_env(emulator_port, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"),
        )  # fmt: skip
        problems = check_answers(plain["results"]) + check_answers(with_redis["results"])  # type: ignore[arg-type]
        if with_redis["modules"] != ["async_timeout", "redis"]:
            problems.append(f"REDIS_URL did not load redis and async_timeout: {with_redis['modules']}")
        compiled = [*plain["compiled"], *with_redis["compiled"]]  # type: ignore[misc]
        if compiled:
            problems.append(f"compiled from source (no usable .pyc): {compiled[:10]}")
        if problems:
            raise BuildError("verify: " + "\n  ".join(["the package is not right:", *problems]))
        print(f"verify: {len(events)} sample events and a Redis event served by Python 3.10 from a read-only copy")
        print("verify: every module was loaded from its .pyc")
        with_pyc = cold_start_ms(python, package, env)
    with background(emulator, emulator_port), read_only_copy(FUNCTION_ZIP, without_bytecode=True) as bare:
        without_pyc = cold_start_ms(python, bare, function_env(emulator_port))
    ratio = without_pyc / with_pyc
    print(f"verify: cold start {with_pyc:.0f} ms with bytecode, {without_pyc:.0f} ms without ({ratio:.1f}x)")
    record_cold_start(python, with_pyc, without_pyc)


def record_cold_start(python: str, with_pyc: float, without_pyc: float) -> None:
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    size = FUNCTION_ZIP.stat().st_size / 1024 / 1024
    section = "\n".join(
        [
            "<!-- package:start -->",
            f"## The package on Python {version} (`make verify-package`)",
            "",
            f"dist/function.zip: {size:.2f} MB. Unzipped into a read-only directory, run with `-I -B`, median of "
            f"{COLD_RUNS} fresh processes from spawn to the first answer:",
            "",
            "| measure | with bytecode | without bytecode | ratio |",
            "|---|---|---|---|",
            f"| cold start: import index + serve one event | {with_pyc:.0f} ms | {without_pyc:.0f} ms | "
            f"{without_pyc / with_pyc:.1f}x |",
            "<!-- package:end -->",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(section + "\n")
    print(f"verify: results in {RESULTS.relative_to(ROOT)} (make bench adds them to bench/RESULTS.md)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.package", description=__doc__)
    parser.add_argument("command", choices=["build", "verify", "python310"])
    args = parser.parse_args(argv)
    if args.command == "build":
        build()
    elif args.command == "verify":
        verify()
    else:
        print(python310())
    return 0


if __name__ == "__main__":
    sys.exit(main())
