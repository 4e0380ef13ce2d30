"""`python -m sim`: run the TDX, Slack and SMTP stand-ins until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal

from sim.app import SimServer


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sim", description="Local stand-ins for TDX, Slack and SMTP."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8090)
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--tdx-window-seconds", type=float, default=60.0)
    parser.add_argument("--tdx-limit", type=int, default=60, help="calls per window per method")
    parser.add_argument("--tdx-create-limit", type=int, default=30, help="ticket creations")
    parser.add_argument("--slack-per-second", type=float, default=1.0, help="per channel")
    parser.add_argument(
        "--halo-limit", type=int, default=300, help="Halo API calls per window (0: no limit)"
    )
    parser.add_argument("--halo-window", type=float, default=300.0, help="rolling, seconds")
    parser.add_argument(
        "--servicenow-limit", type=int, default=3600, help="per user per window (0: no limit)"
    )
    parser.add_argument("--servicenow-window", type=float, default=3600.0, help="seconds")
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--data-dir",
        default="var",
        help="keep every stand-in's records (SQLite files) here, so a restart forgets nothing",
    )
    parser.add_argument(
        "--in-memory", action="store_true", help="keep nothing: start empty, forget on exit"
    )
    parser.add_argument("--hook-url", default=None, help="deskflow's base URL for webhooks")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SimServer(
        host=args.host,
        http_port=args.http_port,
        smtp_port=args.smtp_port,
        tdx_window_seconds=args.tdx_window_seconds,
        tdx_limit=args.tdx_limit,
        tdx_create_limit=args.tdx_create_limit,
        slack_per_second=args.slack_per_second,
        log_level=args.log_level,
        data_dir=None if args.in_memory else args.data_dir,
        halo_rate=(args.halo_limit, args.halo_window) if args.halo_limit else None,
        servicenow_rate=(
            (args.servicenow_limit, args.servicenow_window) if args.servicenow_limit else None
        ),
    ) as sim:
        if args.hook_url:
            sim.point_webhooks(args.hook_url)
        print("deskflow stand-ins running:", flush=True)
        print(f"  TDX      {sim.tdx_base_url}", flush=True)
        print(f"  Slack    {sim.slack_base_url}", flush=True)
        print(f"  SMTP     {sim.smtp_host}:{sim.smtp_port}", flush=True)
        print(f"  Mailbox  {sim.mailbox_url}", flush=True)
        print(f"  Halo     {sim.halo_base_url}  console {sim.http_url}/_sim/halo", flush=True)
        print(f"  SNow     {sim.servicenow_base_url}", flush=True)
        print(f"  Controls {sim.http_url}/_sim/docs", flush=True)
        print(f"  Data     {sim.data_dir or 'in memory (forgotten on exit)'}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
    print("stand-ins stopped.", flush=True)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_serve(_parse(argv)))


if __name__ == "__main__":
    main()
