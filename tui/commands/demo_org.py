"""``sfsync demo-org``: the local Salesforce org alone, in the foreground.

The first stdout line is one JSON object (``url``, ``loginUrl``, ``clientId``, ``clientSecret``,
``username``, ``password``, and ``caFile`` with ``--tls``) so scripts and tests can read where the org is
and how to log in; Ctrl-C stops it (and saves ``--data``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import UsageError


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _non_negative(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        return value
    return parse


def handler(args: argparse.Namespace) -> int:
    from core.emulator import serve

    if args.token_ttl <= 0:
        raise UsageError("--token-ttl: must be more than 0 seconds")
    if args.result_ttl <= 0:
        raise UsageError("--result-ttl: must be more than 0 seconds")
    data = Path(args.data).expanduser() if args.data else None
    try:
        return serve(host=args.host, port=args.port, users=args.users, seed=args.seed,
                     auto_approve=args.auto_approve, tls=args.tls, token_ttl=args.token_ttl,
                     error_rate=args.error_rate, latency_ms=args.latency_ms, bandwidth=args.bandwidth,
                     job_ms=args.job_ms, job_rate=args.job_rate, instant_jobs=args.instant_jobs,
                     result_ttl=args.result_ttl, data=data)
    except ValueError as exc:           # a --data file that is not an org
        raise UsageError(f"--data: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--host/--port: {exc}") from None
    except KeyboardInterrupt:
        return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo-org", help="run a local Salesforce org in the foreground",
        description="Run a local Salesforce org (OAuth + REST API over generated users). The first stdout line "
                    "is a JSON object with url, loginUrl, clientId, clientSecret, username and password.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_non_negative(int), default=0, help="port (default 0: a free port)")
    p.add_argument("--users", type=_non_negative(int), default=250, help="generated people (default 250)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated data (default 0)")
    p.add_argument("--auto-approve", action="store_true", help="skip the login and consent pages")
    p.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA (printed as caFile)")
    p.add_argument("--token-ttl", type=float, default=7200, metavar="SECONDS",
                   help="access-token lifetime (default 7200)")
    p.add_argument("--error-rate", type=_fraction, default=0.0, metavar="R",
                   help="fraction of data-API calls answered 503 or REQUEST_LIMIT_EXCEEDED (default 0)")
    p.add_argument("--latency-ms", type=_non_negative(float), default=0.0, metavar="MS",
                   help="delay added to every data-API call, Bulk API results included (default 0)")
    p.add_argument("--bandwidth", type=_non_negative(float), default=0.0, metavar="BYTES_PER_S",
                   help="bytes per second each connection carries, so big answers take their time (default 0: "
                        "unlimited)")
    p.add_argument("--job-ms", type=_non_negative(float), default=1000.0, metavar="MS",
                   help="fixed time a Bulk API query job takes to complete (default 1000)")
    p.add_argument("--job-rate", type=_non_negative(float), default=50_000.0, metavar="ROWS_PER_S",
                   help="plus one second per this many rows (default 50000; 0: no size part)")
    p.add_argument("--instant-jobs", action="store_true", help="Bulk API query jobs complete at once")
    p.add_argument("--result-ttl", type=float, default=600.0, metavar="SECONDS",
                   help="how long a resultPages result URL stays usable (default 600)")
    p.add_argument("--data", metavar="FILE", help="keep the org's state in FILE across restarts")
    p.set_defaults(func=handler)
