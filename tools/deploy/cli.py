"""`make deploy` / `make destroy`: one stack of the function and everything around it, with tccli.

    python -m tools.deploy apply [--dry-run] [--unset NAME,...] [--zip dist/function.zip]   (STACK=..., REGION=...)
    python -m tools.deploy destroy [--dry-run]

Create-or-update, every time: each run walks the stack's resources (tools/deploy/resources/: the execution role
and its policy, the CLS logset, topic and index, the function, its triggers, async retries and concurrency
cap, the alarm notices, alarms and dashboard, the Cloud Monitor alarm policies), creates what is missing,
updates what differs, and leaves alone what it cannot show is this stack's. A failed step prints one line
naming it and the API's error, exits 1, and the next run continues from there: nothing is created twice. It
waits for the function to be `Active` between the calls that change it. `--dry-run` prints the plan (reads
only) and exits 1 if a real run would be refused. `destroy` walks the same list backward and deletes only what
carries the stack's tags (or, for the default stack, the mark of the tool before it tagged), and never a CAM
role or policy that the stack's function still uses in another region.

Stacks, regions and where each variable comes from: tools/stack.py. Requests too large or too secret for a
command line travel in `--cli-input-json file://…` files, mode 0600, deleted as soon as tccli has read them.
TCCLI names the tccli binary; DEPLOY_API_ENDPOINT (host:port) sends every call to one endpoint (the tests'
stand-in).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from tools.deploy.desired import FUNCTION_ZIP, Desired
from tools.deploy.plan import Deployer, Plan
from tools.deploy.tccli import REQUESTS, Cloud, CloudError, DeployError, Tccli, Unreachable, remove_stale_requests
from tools.stack import STACKS, StackError


def _build_package() -> None:
    from tools import package

    package.build()


def _sleeper(cloud: Cloud | None) -> Callable[[float], None]:
    return time.sleep if cloud is None else (lambda _: None)


# ---- the command -----------------------------------------------------------------------------------


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    cloud: Cloud | None = None,
    stacks: Path = STACKS,
) -> int:
    """`cloud`: what answers the calls (tccli unless given: the fast tests give the stand-in in-process)."""
    parser = argparse.ArgumentParser(
        prog="make deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["apply", "destroy"])
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing (reads only)")
    parser.add_argument("--unset", default="", help="comma-separated variables to remove from the function")
    parser.add_argument("--zip", type=Path, default=FUNCTION_ZIP, help="the package (make package)")
    parser.add_argument("--stacks", type=Path, default=stacks, help="the directory of stack files (deploy/stacks)")
    args = parser.parse_args(argv)
    shell = os.environ if environ is None else environ
    name = "deploy" if args.command == "apply" else "destroy"
    binary = shell.get("TCCLI") or shutil.which("tccli") or ("" if cloud is not None else None)
    if binary is None:
        missing = "tccli is not installed: pip install tccli, then tccli configure (docs/deploy.md#step-by-step)"
        if not args.dry_run:
            print(f"{name}: {missing}", file=out)
            return 1
        cloud = Unreachable(missing)
    # The package: the one given (--zip), or built afresh from the sources by a real run once its plan has passed the
    # checks (never by a dry run, which compares the sources' digest: tools/deploy/desired.py, sources_digest).
    build_package = None
    if args.command == "apply" and not args.dry_run:
        if args.zip == FUNCTION_ZIP:
            build_package = _build_package
        elif not args.zip.is_file():
            print(f"{name}: no package at {args.zip}: make package", file=out)
            return 1
    remove_stale_requests(REQUESTS)
    plan = Plan(out, args.dry_run, name)
    try:
        unset = frozenset(item.strip() for item in args.unset.split(",") if item.strip())
        from_sources = args.command == "apply" and args.zip == FUNCTION_ZIP
        desired = Desired.from_template(shell, args.zip, unset, args.stacks, from_sources=from_sources)
        caller = cloud or Tccli(binary or "tccli", desired.region, shell.get("DEPLOY_API_ENDPOINT") or None)
        deployer = Deployer(
            caller,
            desired,
            plan,
            poll_seconds=float(shell.get("DEPLOY_POLL_SECONDS") or 2.0),
            sleep=_sleeper(cloud),
            build_package=build_package,
        )
        print(
            f"{name}: {'plan (dry run, nothing changes)' if args.dry_run else 'stack ' + desired.names.stack}",
            file=out,
            flush=True,
        )
        deployer.apply() if args.command == "apply" else deployer.destroy()
    except (DeployError, StackError) as exc:
        print(f"{name}: {exc}", file=out)
        if isinstance(exc, CloudError) or str(exc).startswith("step"):
            print(
                f"{name}: nothing after that step ran; fix it and run the same command again (it continues)", file=out
            )
        return 1
    finally:
        with contextlib.suppress(OSError):
            REQUESTS.rmdir()  # empty: every request file is deleted as soon as tccli has read it
    summary = ", ".join(f"{count} {verb}" for verb, count in sorted(plan.counts.items())) or "nothing read"
    if args.dry_run:
        print(f"{name}: plan: {summary}", file=out)
        for refusal in deployer.refusals:
            print(f"{name}: refused: {refusal}", file=out)
        return 1 if deployer.refusals else 0
    print(f"{name}: done ({summary})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
