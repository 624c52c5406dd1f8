"""``sfsync serve``: IDM's REST API for this project (the seed's curl commands work against it).

HTTPS with ``--certfile F --keyfile K`` (and client certificates required with ``--ca-file CA``); plain HTTP
on loopback only, unless ``--insecure-http`` (see :mod:`core.api.tls`).

``sfsync serve --set-password [--username NAME]`` stores the REST admin's password (read from stdin, or
asked twice on a terminal) as a salted scrypt hash in ``conf/sfsync.toml``, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import SfsyncError, UsageError
from core.listen import listen_socket

if TYPE_CHECKING:
    import ssl

    from core.config import Project


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve IDM's REST API (recon, managed/user, audit) over HTTPS (or HTTP on loopback)",
        description="Serve the IDM REST API subset of the Salesforce sample. Every call needs the headers "
                    "X-OpenIDM-Username and X-OpenIDM-Password (the admin set with --set-password; "
                    "openidm-admin/openidm-admin while none is set, on loopback only). "
                    "OpenAPI document: /openapi.json (also /openidm/?_api). "
                    "HTTPS with --certfile/--keyfile; plain HTTP only on loopback unless --insecure-http.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any free)")
    parser.add_argument("--certfile", metavar="F",
                        help="serve HTTPS with this PEM certificate (chain) file; needs --keyfile")
    parser.add_argument("--keyfile", metavar="K", help="the certificate's unencrypted PEM private key file")
    parser.add_argument("--ca-file", metavar="CA",
                        help="with --certfile/--keyfile: require client certificates signed by a CA in this PEM file")
    parser.add_argument("--insecure-http", action="store_true",
                        help="allow plain HTTP on a non-loopback --host (the admin password crosses the network "
                             "in clear)")
    parser.add_argument("--set-password", action="store_true",
                        help="read the REST admin password from stdin, store its hash in conf/sfsync.toml, exit")
    parser.add_argument("--username", help="with --set-password: the admin user name (default openidm-admin)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from core.config import Project

    project = Project.resolve(args.project)
    if args.set_password:
        return set_password(project, args.username)
    if args.username:
        raise UsageError("--username: only with --set-password")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: must be between 0 and 65535, got {args.port}")
    return serve(project, args.host, args.port, tls_context(args))


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The server's TLS context from the flags (None: plain HTTP, where allowed); UsageError (exit 2) else."""
    from core.api import plain_http_refusal, server_context

    if bool(args.certfile) != bool(args.keyfile):
        given, missing = ("--certfile", "--keyfile") if args.certfile else ("--keyfile", "--certfile")
        raise UsageError(f"{missing}: required with {given} (HTTPS needs the certificate and its key)")
    if not args.certfile:
        if args.ca_file:
            raise UsageError("--ca-file: only with --certfile/--keyfile (client certificates need HTTPS)")
        refusal = plain_http_refusal(args.host)
        if refusal is not None and not args.insecure_http:
            raise UsageError(refusal)
        return None
    if args.insecure_http:
        raise UsageError("--insecure-http: not with --certfile/--keyfile, which serve HTTPS")
    return server_context(args.certfile, args.keyfile, args.ca_file)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New REST admin password: ")
        if first != getpass.getpass("Again: "):
            raise UsageError("--set-password: the two passwords differ; nothing changed")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def set_password(project: Project, username: str | None) -> int:
    from core.api import DEFAULT_USERNAME, hash_password
    from core.config import Settings

    password = _read_password()
    if not password:
        raise UsageError("--set-password: the password read from stdin is empty; nothing changed")
    settings = Settings.load(project)
    settings.admin_password_hash = hash_password(password)
    if username is not None:
        if not username.strip():
            raise UsageError("--username: must not be empty")
        settings.admin_username = username
    settings.save(project)
    user = settings.admin_username or DEFAULT_USERNAME
    print(f"sfsync: REST admin password for {user} stored (hashed) in {project.settings_path}")
    return 0


def serve(project: Project, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
    import uvicorn

    from core.api import create_app, is_loopback

    app = create_app(project, bind_host=host, hsts=tls is not None)  # refuses (exit 2) to expose the default password
    app.state.backend.sync.mappings()  # a missing or broken conf/sync.json: exit 2 now, naming it
    try:
        sock = listen_socket(host, port, backlog=128)
    except OSError as exc:
        raise SfsyncError(f"--host/--port: {exc}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    scheme = "http" if tls is None else "https"
    backend = app.state.backend
    if tls is None and not is_loopback(host):  # only with --insecure-http (tls_context refused it otherwise)
        print(f"sfsync: warning: serving plain HTTP on {host} (--insecure-http): the admin password and all data "
              "cross the network unencrypted; use --certfile/--keyfile for HTTPS", file=sys.stderr, flush=True)

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)  # the app's start-up (warm-up) done: requests are answered now
            if not self.should_exit:
                print(f"sfsync: serving the IDM REST API at {scheme}://{shown}:{bound_port}/openidm/ "
                      f"(OpenAPI: /openapi.json); Ctrl-C stops", flush=True)
                jobs = sorted(p.stem.removeprefix("schedule-") for p in project.conf_dir.glob("schedule-*.json"))
                print(f"sfsync: running the schedules of {project.conf_dir.name}/ ({', '.join(jobs) or 'none yet'};"
                      " files are read again when they change)", flush=True)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await asyncio.to_thread(stop_node)  # the cluster node's page in hand, before the core closes
            await super().shutdown(sockets)

        def handle_exit(self, sig: int, frame: object) -> None:
            # Ctrl-C: the runs this server started stop at their next page and end CANCELED, so a client
            # waiting on one (waitForCompletion) gets its answer and the server can close gracefully
            backend.cancel_started_runs()
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    stop_node = cluster_node(backend.sync)  # PostgreSQL: a node of clustered reconciliations too
    from core.api import limited_protocol

    limits = app.state.limits  # conf/sfsync.toml: the request head's size and the slow-client timeouts
    protocol = limited_protocol(max_header_bytes=limits.max_header_bytes, max_header_count=limits.max_header_count,
                                request_header_timeout=limits.request_header_timeout,
                                request_body_timeout=limits.request_body_timeout)
    config = uvicorn.Config(app, http=protocol, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=10)
    config.load()
    config.ssl = tls  # the context built and checked up front (uvicorn's own would re-read the files)
    server = Server(config)
    from core.schedule import SchedulerThread  # the project's conf/schedule-*.json, while it serves

    scheduler = SchedulerThread(project, on_fire=lambda line: print(line, flush=True),
                                on_error=lambda exc: print(f"sfsync: {exc}", file=sys.stderr, flush=True),
                                config=backend.configs).start()  # the server's watcher of the files
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        stop_node()
        scheduler.stop()
        sock.close()
    return 0


def cluster_node(sync: Any) -> Callable[[], None]:
    """On a PostgreSQL repository, this server is also a node of clustered reconciliations (as ``sfsync worker``
    is) in a thread of its own; the function that stops it after its page in hand."""
    import threading

    if not hasattr(sync.repo, "cluster"):
        return lambda: None
    from core.sync import run_node

    stop = threading.Event()

    def work() -> None:
        try:
            run_node(sync, sync.node_id, stop)
        except SfsyncError as exc:
            print(f"sfsync: the cluster node stopped: {exc}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=work, name="sfsync-cluster-node", daemon=True)
    thread.start()
    print(f"sfsync: node {sync.node_id} of clustered reconciliations on {sync.repo.location}", flush=True)

    def halt() -> None:
        stop.set()
        thread.join(timeout=120)

    return halt
