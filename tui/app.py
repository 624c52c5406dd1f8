"""The sfsync Textual app: four screens (Connector, Login, Mappings, Users) over one core Backend.

Built by :func:`make_app` (the command line, the demo, the tests and the screenshot script all use it).
The App owns what must outlive a screen: the reconciliation worker, the watcher that polls the repository
for runs started elsewhere (CLI, REST), the connection state in the header and the one handler that turns
a failed worker into a readable notice.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from core.config import Project
from tui._textual_compat import build_mode, css_update_count, has_built_mode
from tui.backend import Backend
from tui.errors import describe_error
from tui.messages import ConnectionState, MappingsLoaded, RunFinished, RunProgress, RunsListed, ThemeLoaded
from tui.screens.connector import ConnectorScreen
from tui.screens.connector_help import SalesforceAppHelp
from tui.screens.login import LoginScreen
from tui.screens.mappings import MappingsScreen
from tui.screens.users import UsersScreen
from tui.script_log import ScriptLogged, ScriptLogNotifier

MODE_TITLES = {"connector": "Connector", "login": "Login", "mappings": "Mappings", "users": "Users"}
POLL_SECONDS = 0.25
#: a run's progress is drawn at most this often (the engine reports every page, several times a second; each
#: redraw is a few ms of this thread, which shares the GIL with the engine's threads); the last state is drawn
PROGRESS_DRAW_SECONDS = 0.5
#: when, after the first screen, the other screens are built in the background, and in which order
WARM_UP_AFTER = 0.3
WARM_ORDER = ("users", "mappings", "login", "connector")
#: the Schedules tab's actions in the command palette: (title, help, MappingsScreen action)
SCHEDULE_COMMANDS = (
    ("Add a schedule", "A new conf/schedule-<id>.json reconciling the selected mapping", "add_schedule"),
    ("Edit the highlighted schedule", "Cron expression or interval, time zone, enabled, misfire policy",
     "edit_schedule"),
    ("Pause or resume the highlighted schedule", "Trigger state in the repository, for every process",
     "pause_schedule"),
)


class SfsyncApp(App[None]):
    """The terminal console. ``backend`` is the only way it reaches core."""

    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses elsewhere (bench) keep it
    TITLE = "sfsync"
    MODES: ClassVar[dict[str, Any]] = {
        "connector": ConnectorScreen,
        "login": LoginScreen,
        "mappings": MappingsScreen,
        "users": UsersScreen,
    }
    DEFAULT_MODE = "connector"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,1", "switch_mode('connector')", "Connector", id="connector", show=False),
        Binding("f2,2", "switch_mode('login')", "Login", id="login", show=False),
        Binding("f3,3", "switch_mode('mappings')", "Mappings", id="mappings", show=False),
        Binding("f4,4", "switch_mode('users')", "Users", id="users", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, project: Project, backend: Backend | None = None, *, start_mode: str = "connector",
                 watch_runs: bool = True, demo_org: Any = None, warm_up: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warm_up = warm_up
        self.project = project
        self.backend = backend or Backend(project, headless_login=demo_org is not None)
        #: the local org of ``sfsync demo`` (its lifetime is the command's; the app only shows it)
        self.demo_org = demo_org
        self.start_mode = start_mode
        self.watch_runs = watch_runs
        self.connection = ConnectionState(logged_in=False)
        self.mapping_names: list[str] = []
        self.watched_run: dict[str, Any] | None = None
        self.runs: list[dict[str, Any]] = []
        self.run_signal: Signal[dict[str, Any]] = Signal(self, "run")
        self.runs_signal: Signal[list[dict[str, Any]]] = Signal(self, "runs")
        self.connection_signal: Signal[ConnectionState] = Signal(self, "connection")
        self._cancel_event: threading.Event | None = None
        self._progress_drawn = 0.0
        self._progress_timer: Timer | None = None
        #: Textual's CSS update count at the last full ``refresh_css`` (see ``BaseScreen.__init__``)
        self.css_refreshed_at: int | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)
        self._script_log = ScriptLogNotifier(self.post_message).attach()
        # background work starts once the first screen is drawn: its threads would compete for the GIL
        self.call_after_refresh(self._start_background)

    def refresh_css(self, animate: bool = True) -> None:
        count = css_update_count(self)  # a change during the refresh must still count as pending
        super().refresh_css(animate)
        self.css_refreshed_at = count

    def _start_background(self) -> None:
        if self._exit or self._closing or not self.is_running:
            return  # quit before the first frame: start nothing
        self._load_mapping_names()
        self._read_connection()
        self._load_theme()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.watch_runs:
            self._watch_runs()
        if self.warm_up:
            self.set_timer(WARM_UP_AFTER, self._warm_next_mode)

    def _warm_next_mode(self) -> None:
        """Build the other screens while the user reads the first one, one per idle moment.

        The first switch to a mode otherwise reparses the whole stylesheet and composes the screen
        (0.2-0.5 s on a small machine); built here, pressing 4 shows 100,000 users at once.
        """
        if self._exit or self._closing or not self.is_running:
            return  # quitting: never add screens while Textual closes them
        for mode in WARM_ORDER:
            if not has_built_mode(self, mode):
                build_mode(self, mode)  # Textual (pinned) builds a mode's screen without showing it
                self.set_timer(0.05, self._warm_next_mode)
                return

    def on_unmount(self) -> None:
        if self._cancel_event is not None:
            self._cancel_event.set()
        notifier = getattr(self, "_script_log", None)
        if notifier is not None:
            notifier.detach()

    @on(ScriptLogged)
    def _script_logged(self, message: ScriptLogged) -> None:
        """A script's warning or error (all its lines are in logs/sfsync.log)."""
        more = f"\n(and {message.more} more in logs/sfsync.log)" if message.more else ""
        self.notify(message.text + more, title="Script", severity="error" if message.error else "warning")

    @work(thread=True, exclusive=True, exit_on_error=False, group="mapping-names", description="Reading sync.json")
    def _load_mapping_names(self) -> None:
        self.post_message(MappingsLoaded(self.backend.mappings()))

    @on(MappingsLoaded)
    def _mappings_loaded(self, message: MappingsLoaded) -> None:
        """The palette offers Reconcile / Dry run for each (screens' own loads bubble here too)."""
        self.mapping_names = [str(getattr(m, "name", None) or m["name"]) for m in message.mappings]

    @work(thread=True, exclusive=True, exit_on_error=False, group="connection", description="Reading the connector")
    def _read_connection(self) -> None:
        config = self.backend.load_connector()
        props = config.properties
        logged_in = bool(props.refreshToken and props.instanceUrl)
        self.post_message(ConnectionState(org=props.instanceUrl or None, logged_in=logged_in))

    # ---- theme (a UI preference kept in sfsync.toml) -------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="theme", description="Reading sfsync.toml")
    def _load_theme(self) -> None:
        self.post_message(ThemeLoaded(self.backend.load_theme()))

    @on(ThemeLoaded)
    def _theme_loaded(self, message: ThemeLoaded) -> None:
        theme = message.theme
        if theme and theme in self.available_themes and theme != self.theme:
            self._saved_theme = theme
            self.theme = theme

    def _theme_changed(self, theme: Any) -> None:
        name = getattr(theme, "name", str(theme))
        if name != getattr(self, "_saved_theme", None):
            self._saved_theme = name
            self._save_theme(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="theme-save", description="Saving the theme")
    def _save_theme(self, name: str) -> None:
        self.backend.save_theme(name)

    @on(ConnectionState)
    def _connection_changed(self, message: ConnectionState) -> None:
        current = self.connection
        self.connection = ConnectionState(
            org=message.org if message.org is not None else current.org,
            user=message.user if message.user is not None else current.user,
            api_usage=message.api_usage if message.api_usage is not None else current.api_usage,
            logged_in=message.logged_in if message.logged_in is not None else current.logged_in,
        )
        self.connection_signal.publish(self.connection)

    # ---- errors -------------------------------------------------------------------------------------
    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported: a readable notice, the traceback only in the log."""
        if event.worker.group == "recon" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                              WorkerState.CANCELLED):
            self._cancel_event = None  # this app may start another run
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        self.log.error("".join(traceback.format_exception(error)) if error else "worker failed")
        title = event.worker.description or "Background task"
        self.notify(describe_error(error), title=f"{title} failed", severity="error", markup=False, timeout=8)

    # ---- reconciliation (App-owned, so it survives screen switches) ---------------------------------
    @property
    def recon_running(self) -> bool:
        return self._cancel_event is not None

    def start_recon(self, mapping: str, dry_run: bool = False, *,
                    allow_deletions: bool = False) -> Worker[dict[str, Any]] | None:
        """Start a reconciliation of ``mapping`` unless one is already running in this app."""
        if self.recon_running:
            self.notify("A reconciliation is already running in this app.", severity="warning")
            return None
        self._cancel_event = threading.Event()
        return self._recon_worker(mapping, dry_run, self._cancel_event, allow_deletions)

    @work(thread=True, exclusive=True, exit_on_error=False, group="recon", description="Reconciliation")
    def _recon_worker(self, mapping: str, dry_run: bool, cancel: threading.Event,
                      allow_deletions: bool = False) -> dict[str, Any]:
        def progress(run: dict[str, Any]) -> None:
            self.post_message(RunProgress(dict(run)))

        run = self.backend.reconcile(mapping, dry_run=dry_run, on_progress=progress, cancel=cancel,
                                     allow_deletions=allow_deletions)
        self.post_message(RunFinished(dict(run)))
        return run

    def cancel_recon(self) -> None:
        """Cancel the run being watched: ours through its event, one started elsewhere through core."""
        if self._cancel_event is not None:
            self._cancel_event.set()
            return
        run = self.watched_run
        if run and run.get("state") == "ACTIVE":
            self._cancel_external(str(run["_id"]))

    @work(thread=True, exit_on_error=False, group="cancel", description="Cancelling the run")
    def _cancel_external(self, run_id: str) -> None:
        self.backend.cancel_run(run_id)

    @on(RunProgress)
    def _run_progress(self, message: RunProgress) -> None:
        """Keep the newest state; draw it now, or when PROGRESS_DRAW_SECONDS have passed since the last draw."""
        self.watched_run = message.run
        wait = self._progress_drawn + PROGRESS_DRAW_SECONDS - time.monotonic()
        if wait <= 0:
            self._draw_progress()
        elif self._progress_timer is None:
            self._progress_timer = self.set_timer(wait, self._draw_progress)

    def _draw_progress(self) -> None:
        self._progress_timer = None
        self._progress_drawn = time.monotonic()
        if self.watched_run is not None:
            self.run_signal.publish(self.watched_run)

    @on(RunFinished)
    def _run_finished(self, message: RunFinished) -> None:
        if self._progress_timer is not None:
            self._progress_timer.stop()  # the final state replaces a pending one
            self._progress_timer = None
        self.watched_run = message.run
        self.run_signal.publish(message.run)
        run = message.run
        status = run.get("statusSummary") or {}
        self.notify(f"{run.get('mapping')}: {run.get('state')} "
                    f"({status.get('SUCCESS', 0)} ok, {status.get('FAILURE', 0)} failed)",
                    title="Reconciliation", severity="information" if run.get("state") == "SUCCESS" else "warning",
                    markup=False)
        if run.get("deletionsHeld"):
            self._ask_deletions(run)

    def _ask_deletions(self, run: dict[str, Any]) -> None:
        """The deletion safeguard held this run's deletions back: show how many and a few, and ask."""
        from tui.screens.confirm_deletions import ConfirmDeletions

        mapping = str(run.get("mapping"))

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_recon(mapping, allow_deletions=True)

        self.push_screen(ConfirmDeletions(run), answered)

    # ---- runs started elsewhere ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-watch", description="Watching runs")
    def _watch_runs(self) -> None:
        """Poll the repository's runs a few times a second; a run started by the CLI or REST shows up live."""
        worker = get_current_worker()
        last: Any = None
        while not worker.is_cancelled:
            if self._cancel_event is not None:  # our own run reports itself; no need to read it back
                time.sleep(POLL_SECONDS)
                continue
            try:
                runs = self.backend.runs(20)
            except Exception as exc:  # the repository may not exist yet (fresh project): try again later
                self.log.warning(f"runs watch: {describe_error(exc)}")
                runs = []
            key = [(r.get("_id"), r.get("state"), r.get("progress"), r.get("duration")) for r in runs]
            if key != last:
                last = key
                self.post_message(RunsListed(runs))
            deadline = time.monotonic() + POLL_SECONDS
            while time.monotonic() < deadline and not worker.is_cancelled:
                time.sleep(0.05)

    @on(RunsListed)
    def _runs_listed(self, message: RunsListed) -> None:
        self.runs = message.runs
        self.runs_signal.publish(message.runs)
        if self.recon_running:
            return
        watched = self.watched_run
        for run in message.runs:
            if run.get("state") == "ACTIVE" or (watched and run.get("_id") == watched.get("_id")):
                if run != watched:
                    self.watched_run = run
                    self.run_signal.publish(run)
                break

    # ---- command palette ----------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, title in MODE_TITLES.items():
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} screen", self._switcher(mode))
        yield SystemCommand("Test the connector", "Run IDM's system test against Salesforce", self._palette_test)
        yield SystemCommand("Log in to Salesforce", "Open the login screen and start the OAuth flow",
                            self._palette_login)
        yield SystemCommand("Salesforce app setup", "How to create the External Client App sfsync logs in with",
                            lambda: self.push_screen(SalesforceAppHelp()))
        yield SystemCommand("Schedules", "The selected mapping's schedules: next fire, last result, pause, edit",
                            self._schedules(None))
        for title, help_text, action in SCHEDULE_COMMANDS:
            yield SystemCommand(title, help_text, self._schedules(action))
        for name in self.mapping_names:
            yield SystemCommand(f"Reconcile {name}", "Run a full reconciliation of this mapping",
                                self._runner(name, False))
            yield SystemCommand(f"Dry run {name}", "Decide situations and actions, change nothing",
                                self._runner(name, True))

    def _schedules(self, action: str | None) -> Any:
        """Show the Mappings screen's Schedules tab, then run one of its actions (add, edit, pause/resume)."""
        def run() -> None:
            self.switch_mode("mappings")

            def then() -> None:
                screen = self.screen
                if isinstance(screen, MappingsScreen):
                    screen.show_schedules_tab(then=action)
            self.call_later(then)
        return run

    def _switcher(self, mode: str) -> Any:
        return lambda: self.switch_mode(mode)

    def _runner(self, name: str, dry_run: bool) -> Any:
        def run() -> None:
            self.switch_mode("mappings")
            self.start_recon(name, dry_run)
        return run

    def _palette_test(self) -> None:
        self.switch_mode("connector")
        self.call_later(lambda: self.screen.action_test()
                        if isinstance(self.screen, ConnectorScreen) else None)

    def _palette_login(self) -> None:
        self.switch_mode("login")
        self.call_later(lambda: self.screen.action_start() if isinstance(self.screen, LoginScreen) else None)


def make_app(project: Project | str | Path, backend: Backend | None = None, *, start_mode: str = "connector",
             watch_runs: bool = True, demo_org: Any = None, warm_up: bool = True, **kwargs: Any) -> SfsyncApp:
    """Build the app for a project folder; the single factory the CLI, demo, tests and scripts share."""
    if not isinstance(project, Project):
        project = Project.resolve(project)
    return SfsyncApp(project, backend, start_mode=start_mode, watch_runs=watch_runs, demo_org=demo_org,
                     warm_up=warm_up, **kwargs)
