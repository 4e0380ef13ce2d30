"""A bench held to an aim runs in a process of its own, on a dev server of its own.

The TDX batch and the submit bench have their stand-ins (and the submit bench its browsers
and its bare-update client) in the process that runs them. In `make bench` that process had
just run 10,000 SLA clocks on an in-process worker (1.7 GiB resident at their peak, 1.4 GiB
still during the submit bench), and both figures came out worse there than on their own on
the same code: the 100-at-once Confirm 1.58 and 1.70 times the bare update against 1.30, the
TDX batch 1.11 and 1.12 times its bound against 1.05-1.06. So `make bench` starts each as its
module's own command, the way a reader re-runs one, and reads its figures back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from domain.settings import Settings

Figures = dict[str, float | int]


def bench_settings(prefix: str) -> tuple[Path, Settings]:
    """A throwaway setup in a new temporary directory: development mode (a derived codec
    key, no real secrets needed) and a SQLite app database of its own."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    return workdir, Settings(
        _env_file=None, dev=True, database_url=f"sqlite:///{workdir / 'app.db'}"
    )


def run_main(main: Callable[[], Awaitable[Figures]]) -> None:
    """A bench module's command line: its figures as `name value` lines, or with `--json` as
    one JSON object on the last line of stdout (what `in_own_process` reads)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help="figures as one JSON line")
    args = parser.parse_args()
    figures = asyncio.run(main())
    if args.json:
        print(json.dumps(figures), flush=True)
    else:
        for name, value in figures.items():
            print(f"{name} {value}")


async def in_own_process(module: str, log: Path) -> Figures:
    """Run `python -m module --json` and return its figures. What it prints before them and
    its stderr go where this process's output goes (the bench log, under `figures_only`)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--json", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    lines = out.decode().splitlines()
    if proc.returncode != 0 or not lines:
        sys.stdout.write("\n".join(lines) + "\n")
        raise RuntimeError(f"{module} ended with exit code {proc.returncode}; see {log}")
    sys.stdout.write("".join(f"{line}\n" for line in lines[:-1]))
    sys.stdout.flush()
    return json.loads(lines[-1])
