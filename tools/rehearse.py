"""`make rehearse STACK=<name>`: a deploy, a second deploy and a destroy of one stack, with the real tccli, against
the local control-plane stand-in (emulator/cloud/): no account, no network.

    python -m tools.rehearse [--zip PATH] [--stacks DIR]   (STACK=..., REGION=..., TCCLI=...)

Each step is `make deploy`'s own command (python -m tools.deploy) with the shell's variables, so it plans, checks
and refuses exactly as a real deploy from this shell would; only the API it reaches differs. tccli is the one
TCCLI names (or the one on PATH, else tccli 3.1.189.1 installed under build/), run with a key of the stand-in's
and a HOME of its own (your ~/.tccli and its keys are never read), trusting the stand-in's certificate through a
`sitecustomize` on its PYTHONPATH (nothing of tccli's is changed on disk). The stand-in judges every request by
Tencent's definitions (tccli's api.json).

It prints each plan and writes every call sent to build/rehearse/calls.jsonl, one JSON object a line:
{"step", "service", "version", "action", "region", "params"}, secrets as "(secret)" and the zip as "(zip)". The
rehearsal fails (exit 1) when a step fails or when the second deploy changes anything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from emulator import PERMANENT_KEY
from emulator.cloud import CloudStandIn, definitions
from tools.stack import SECRETS, STACKS

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "build" / "rehearse"
CALLS = HERE / "calls.jsonl"
TCCLI_VERSION = "3.1.189.1"  # the version whose api.json the stand-in judges by (emulator/cloud/extract.py)
STEPS = (("deploy", "apply"), ("redeploy", "apply"), ("destroy", "destroy"))
MUTATING = re.compile(r"^(Create|Update|Modify|Put|Delete|Attach|Detach|Binding)")
# The operator's real credentials and profile never reach a rehearsal's tccli.
CREDENTIALS = ("TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_SESSION_TOKEN", "TCCLI_PROFILE")


class RehearsalError(Exception):
    """One line: what stopped the rehearsal, and what to do."""


def openssl(*args: str) -> None:
    try:
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RehearsalError(f"openssl could not make the stand-in's certificate ({exc}): install openssl") from None


def certificate(directory: Path) -> tuple[Path, Path, Path]:
    """(CA, server certificate, server key) for 127.0.0.1: the CA kept across rehearsals, the server's made anew."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    if not ca.is_file():
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(ca_key), "-out", str(ca), "-days", "3650", "-subj", "/CN=rehearse CA")  # fmt: skip
    key, csr, cert, san = (directory / name for name in ("server.key", "server.csr", "server.pem", "san.cnf"))
    san.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
            "-out", str(csr), "-subj", "/CN=127.0.0.1")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "1", "-extfile", str(san))  # fmt: skip
    return ca, cert, key


def trust(directory: Path, ca: Path) -> Path:
    """A directory for tccli's PYTHONPATH whose sitecustomize makes its SDK verify against the stand-in's CA: the
    SDK passes certifi.where() to requests and honours no variable, so certifi.where is what answers. Any
    sitecustomize tccli's Python has of its own still runs after it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        "# Written by tools/rehearse.py: tccli's SDK verifies the local stand-in's certificate.\n"
        "import importlib.machinery\n"
        "import importlib.util\n"
        "import os\n"
        "import sys\n"
        "\n"
        "import certifi\n"
        "\n"
        f"certifi.where = lambda: {str(ca)!r}\n"
        "_here = os.path.dirname(os.path.abspath(__file__))\n"
        "_path = [entry for entry in sys.path if os.path.abspath(entry or '.') != _here]\n"
        "_spec = importlib.machinery.PathFinder.find_spec('sitecustomize', _path)\n"
        "if _spec is not None and _spec.loader is not None:\n"
        "    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))\n"
    )
    return directory


def find_tccli(shell: Mapping[str, str], out: TextIO) -> str:
    named = shell.get("TCCLI") or shutil.which("tccli")
    if named:
        return named
    venv = ROOT / "build" / f"tccli-{TCCLI_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
    binary = venv / "bin" / "tccli"
    if not binary.is_file():
        print(f"rehearse: no tccli on PATH: installing tccli {TCCLI_VERSION} under {venv.relative_to(ROOT)} "
              "(a minute, once)", file=out, flush=True)  # fmt: skip
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, f"tccli=={TCCLI_VERSION}"], check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RehearsalError(f"installing tccli failed ({last[0]}): pip install tccli, or set TCCLI") from None
    return str(binary)


def masked(params: Any, secrets: frozenset[str], key: str = "") -> Any:
    """`params` as a reviewer may read them: a secret's value is "(secret)", the zip "(zip)"."""
    if isinstance(params, dict):
        named = params.get("Key") if isinstance(params.get("Key"), str) else None
        return {
            name: "(secret)" if name == "Value" and named in SECRETS else masked(value, secrets, name)
            for name, value in params.items()
        }
    if isinstance(params, list):
        return [masked(item, secrets, key) for item in params]
    if key == "ZipFile":
        return "(zip)"
    if isinstance(params, str) and any(secret in params for secret in secrets):
        return "(secret)"
    return params


def step_env(shell: Mapping[str, str], tccli: str, cloud: CloudStandIn, home: Path, trusted: Path) -> dict[str, str]:
    env = {name: value for name, value in shell.items() if name not in CREDENTIALS}
    env.update(
        {
            "HOME": str(home),
            "TCCLI": tccli,
            "DEPLOY_API_ENDPOINT": cloud.endpoint,
            "DEPLOY_POLL_SECONDS": "0.1",
            "TENCENTCLOUD_SECRET_ID": PERMANENT_KEY.secret_id,
            "TENCENTCLOUD_SECRET_KEY": PERMANENT_KEY.secret_key,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(trusted), shell.get("PYTHONPATH", "")])),
        }
    )
    return env


def rehearse(shell: Mapping[str, str], zip_path: Path | None, stacks: Path, out: TextIO) -> int:
    tccli = find_tccli(shell, out)
    ca, cert, key = certificate(HERE / "tls")
    trusted = trust(HERE / "trust", ca)
    home = HERE / "home"
    home.mkdir(parents=True, exist_ok=True)
    if zip_path is None:
        from tools import package

        print("rehearse: building the package (make package), once for every step", file=out, flush=True)
        package.build()
        zip_path = HERE / "function.zip"
        shutil.copyfile(package.FUNCTION_ZIP, zip_path)
    secrets = frozenset(value for name in SECRETS if len(value := shell.get(name, "")) >= 4)
    secrets |= {PERMANENT_KEY.secret_key}
    cloud = CloudStandIn(cert, key, reads_until_active=2).start()
    HERE.mkdir(parents=True, exist_ok=True)
    CALLS.unlink(missing_ok=True)
    try:
        env = step_env(shell, tccli, cloud, home, trusted)
        for step, command in STEPS:
            print(f"rehearse: {step} (python -m tools.deploy {command}, tccli {tccli}, the local stand-in)",
                  file=out, flush=True)  # fmt: skip
            since = len(cloud.calls)
            argv = [sys.executable, "-m", "tools.deploy", command, "--zip", str(zip_path), "--stacks", str(stacks)]
            with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) as process:  # fmt: skip
                assert process.stdout is not None
                for printed in process.stdout:  # the plan, line by line, as the deploy prints it
                    out.write(printed)
                    out.flush()
            returncode = process.returncode
            calls = cloud.calls[since:]
            with CALLS.open("a", encoding="utf-8") as log:
                for call in calls:
                    line = {
                        "step": step,
                        "service": call.service,
                        "version": definitions.version(call.service),
                        "action": call.action,
                        "region": call.region,
                        "params": masked(call.params, secrets),
                    }
                    log.write(json.dumps(line, ensure_ascii=False, sort_keys=False) + "\n")
            if returncode != 0:
                raise RehearsalError(f"the {step} step failed (above): a real `make deploy` from this shell would too")
            changed = sorted({call.action for call in calls if MUTATING.match(call.action)})
            if step == "redeploy" and changed:
                raise RehearsalError(f"the second deploy changed something ({', '.join(changed)}): please report it")
        left = leftovers(cloud)
        if left:
            raise RehearsalError(f"the destroy left {', '.join(left)}: please report it")
    finally:
        cloud.stop()
    count = sum(1 for _ in CALLS.open(encoding="utf-8"))
    print(
        f"rehearse: done: {count} calls in {CALLS.relative_to(ROOT)}; the second deploy changed nothing; the destroy "
        "left nothing. `make deploy` from this shell sends the same requests to Tencent Cloud",
        file=out,
    )
    return 0


def leftovers(cloud: CloudStandIn) -> list[str]:
    """What the stand-in still holds (it started empty, so all of it is what the destroy did not remove)."""
    found = [
        f"{len(store)} {what}"
        for what, store in (("cam roles", cloud.roles), ("cam policies", cloud.policies),
                            ("monitor policies", cloud.monitor_policies), ("monitor notices", cloud.monitor_notices))
        if store
    ]  # fmt: skip
    for region, state in sorted(cloud.regions.items()):
        for what, store in vars(state).items():
            if store:
                found.append(f"{len(store)} {what} in {region}")
    return found


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="make rehearse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zip", type=Path, help="the package (default: build it, as make deploy does)")
    parser.add_argument("--stacks", type=Path, default=STACKS, help="the directory of stack files (deploy/stacks)")
    args = parser.parse_args(argv)
    if args.zip is not None and not args.zip.is_file():
        print(f"rehearse: no package at {args.zip}: make package, or leave ZIP unset", file=out)
        return 2
    try:
        return rehearse(os.environ if environ is None else environ, args.zip, args.stacks, out)
    except RehearsalError as exc:
        print(f"rehearse: {exc}", file=out)
        if CALLS.is_file():
            print(f"rehearse: the calls sent so far are in {CALLS.relative_to(ROOT)}", file=out)
        return 1


if __name__ == "__main__":
    sys.exit(main())
