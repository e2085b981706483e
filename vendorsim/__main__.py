"""Run the three vendor fakes until Ctrl-C: python -m vendorsim [options]."""

from __future__ import annotations

import argparse
import sys
import threading

from vendorsim.server import DEFAULT_SIZES, VendorSimulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m vendorsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    for name in DEFAULT_SIZES:
        parser.add_argument(f"--{name}-port", type=int, default=0, help="0 = random free port")
        parser.add_argument(f"--size-{name}", type=int, default=DEFAULT_SIZES[name])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-limit-per-minute", type=int, default=None, help="budget per window (default: none)")
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--jira-flavour", choices=("cloud", "dc"), default="cloud")
    parser.add_argument("--jira-timezone", default="Asia/Kolkata")
    parser.add_argument("--adversarial", action="store_true",
                        help="turn the adversarial profile on (silent deletions, unstable ties, refused workspace "
                             "list, strict issue references, failing auxiliary calls), seeded by --seed")
    parser.add_argument("--print-env", action="store_true", help="also print KEY=value settings for the app")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the simulator, print where each vendor listens, serve until interrupted."""
    args = parse_args(argv)
    sim = VendorSimulator(
        seed=args.seed, host=args.host, rate_limit_per_minute=args.rate_limit_per_minute,
        window_seconds=args.window_seconds, jira_flavour=args.jira_flavour, jira_timezone=args.jira_timezone,
        sizes={name: getattr(args, f"size_{name}") for name in DEFAULT_SIZES},
        ports={name: getattr(args, f"{name}_port") for name in DEFAULT_SIZES}, adversarial=args.adversarial,
    ).start()
    for name, url in sim.base_urls.items():
        creds = " ".join(f"{key}={value}" for key, value in sim.credentials[name].items())
        print(f"{name:<13} {url}  {creds}", flush=True)
    if args.print_env:
        for key, value in sim.settings_env().items():
            print(f"{key}={value}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
