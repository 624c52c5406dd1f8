"""The two widgets that need no core: the virtual users table and the reconciliation panel."""

from __future__ import annotations

import io
import threading

from textual.app import App, ComposeResult

from tui.widgets.recon_progress import ReconProgress, rate_and_eta
from tui.widgets.users_table import UsersTable


class ListSource:
    """Rows in memory; records which ranges the table asked for (it must ask only near the viewport)."""

    def __init__(self, n: int) -> None:
        self.rows = [{"_id": f"id{i:06d}", "userName": f"user{i:06d}", "givenName": "Zoë", "sn": f"Ñúñez{i}",
                      "mail": f"user{i}@example.com", "accountStatus": "active"} for i in range(n)]
        self.asked: list[tuple[int, int]] = []
        self.counts: list[str] = []
        self.lock = threading.Lock()

    def _match(self, flt: str):
        if flt == "true":
            return self.rows
        needle = flt.split('"')[1]
        return [r for r in self.rows if needle in r["userName"]]

    def count(self, flt: str, sort: str | None) -> int:
        with self.lock:
            self.counts.append(flt)
        return len(self._match(flt))

    def page(self, flt: str, sort: str | None, offset: int, limit: int):
        with self.lock:
            self.asked.append((offset, limit))
        rows = self._match(flt)
        if sort and sort.startswith("-"):
            rows = list(reversed(rows))
        return rows[offset:offset + limit]


class TableApp(App[None]):
    def __init__(self, source: ListSource) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        yield UsersTable(self.source, id="table")


async def wait_loaded(pilot, table: UsersTable) -> None:
    for _ in range(200):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if table.loaded and table.counted:
            return
    raise AssertionError("table never loaded")


async def test_hundred_thousand_rows_open_at_once_and_only_visible_pages_are_read():
    source = ListSource(100_000)
    app = TableApp(source)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(UsersTable)
        await wait_loaded(pilot, table)
        assert table.total == 100_000
        assert table.virtual_size.height == 100_001
        # what keeps it quick (bench/bench_tui.py measures how quick): rows are read a viewport at a time,
        # never all 100,000 as a DataTable would hold them
        assert sum(limit for _, limit in source.asked) <= 300
        table.focus()
        await pilot.press("end")
        await wait_loaded(pilot, table)
        assert table.cursor_row == 99_999
        assert "user099999" in app.export_screenshot()
        assert sum(limit for _, limit in source.asked) <= 600


async def test_markup_in_user_text_is_shown_literally():
    source = ListSource(3)
    source.rows[0]["givenName"] = "[/] [bold]x"
    app = TableApp(source)
    async with app.run_test(size=(100, 10)) as pilot:
        table = app.query_one(UsersTable)
        await wait_loaded(pilot, table)
        assert "[/] [bold]x" in app.export_screenshot().replace("&#160;", " ")


async def test_filter_and_reverse_sort_reload_from_the_source():
    source = ListSource(1000)
    app = TableApp(source)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(UsersTable)
        await wait_loaded(pilot, table)
        table.set_query('userName co "00099"')
        await wait_loaded(pilot, table)
        assert table.total == 11  # user000099 and user000990-999
        table.set_query("true")
        table.focus()
        await pilot.press("r")
        await wait_loaded(pilot, table)
        assert table.sort == "-userName"
        assert table.row(0)["userName"] == "user000999"


async def test_a_short_first_page_is_the_total_and_only_a_full_one_is_counted_after_it():
    """A count beside the first page is a second scan of the same filter competing with it for the cores."""
    source = ListSource(1000)
    app = TableApp(source)
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(UsersTable)
        await wait_loaded(pilot, table)
        assert (table.total, source.counts) == (1000, ["true"])
        table.set_query('userName co "00099"')
        await wait_loaded(pilot, table)
        assert (table.total, table.provisional) == (11, False)
        assert source.counts == ["true"]  # 11 rows on the first page: no count needed
        table.set_query('userName co "user"')
        await wait_loaded(pilot, table)
        assert (table.total, table.provisional) == (1000, False)
        assert source.counts == ["true", 'userName co "user"']


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ReconProgress()


def test_rate_and_eta_come_from_the_run_object(sample_run):
    rate, eta = rate_and_eta(sample_run)
    assert rate == 250.0
    assert eta == 2.0


async def test_panel_shows_stage_phases_counters_and_outcome(sample_run):
    app = PanelApp()
    async with app.run_test(size=(100, 20)) as pilot:
        app.query_one(ReconProgress).run = sample_run
        await pilot.pause()
        text = app.export_screenshot().replace("&#160;", " ")
        for expected in ("ACTIVE_RECONCILING_SOURCE", "500/1,000", "FOUND_ALREADY_LINKED", "ABSENT", "480",
                         "SUCCESS", "499", "FAILURE", "records/s", "250"):
            assert expected in text, expected


def test_panel_lines_are_exactly_what_rich_tables_lay_out(sample_run):
    """The panel draws its grids without Rich's Table (5x cheaper per redraw): same segments, same styles,
    including Rich's own layout when a grid or a line does not fit (narrow widths, huge counters)."""
    import random

    from rich.console import Console, Group
    from rich.segment import Segment
    from rich.style import Style

    from tui.widgets.recon_progress import SITUATIONS, Grid, PanelContent, panel_parts

    def drawn(console: Console, renderable, width: int) -> list[list[tuple[str, Style]]]:
        lines = console.render_lines(renderable, console.options.update_width(width), pad=False)
        return [[(s.text, s.style) for s in Segment.simplify(Segment(s.text, s.style or Style.null())
                                                              for s in line)] for line in lines]

    rnd = random.Random(5)
    fallbacks = 0
    for _ in range(400):
        run = dict(sample_run)
        run["situationSummary"] = {n: rnd.choice([0, 0, 7, 480, 100_000, 1_234_567]) for n in SITUATIONS}
        run["progress"] = {name: {"existing": {"processed": rnd.randint(0, 10**6),
                                               "total": rnd.choice(["?", str(rnd.randint(0, 10**6))])}}
                           for name in ("source", "target")}
        run["statusSummary"] = {"SUCCESS": rnd.randint(0, 10**6), "FAILURE": rnd.randint(0, 999)}
        run["duration"] = rnd.randint(0, 10**7)
        run["state"] = rnd.choice(["ACTIVE", "SUCCESS", "FAILED", "CANCELED"])
        run["dryRun"] = rnd.random() < 0.3
        run["stageDescription"] = rnd.choice(["reconciling source entries", "x" * rnd.randint(0, 120)])
        width = rnd.choice([30, 60, 74, 76, 96, 150])
        console = Console(width=width, color_system="truecolor", file=io.StringIO())
        parts = panel_parts(run)
        fallbacks += any(isinstance(p, Grid) and p.lines(width) is None for p in parts)
        rich_tables = Group(*(p.table() if isinstance(p, Grid) else p for p in parts))
        assert drawn(console, PanelContent(parts), width) == drawn(console, rich_tables, width), (width, run)
    assert 0 < fallbacks < 400  # both ways were compared


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        from tui.widgets.status_header import StatusHeader

        yield StatusHeader()


async def test_header_keeps_connection_state_visible_at_80_columns():
    from tui.widgets.status_header import StatusHeader

    app = HeaderApp()
    async with app.run_test(size=(80, 5)) as pilot:
        header = app.query_one(StatusHeader)
        header.screen_title = "Users"
        header.logged_in = True
        header.org = "127.0.0.1:34363"
        header.user = "admin@00d5g000000000h.local"
        header.api_usage = (1234, 15000)
        await pilot.pause()
        line = str(header.render())
        assert "127.0.0.1:34363" in line and "API 1,234/15,000" in line and "Users" in line
        assert len(line) <= 80


def test_users_table_columns_use_the_terminal_width():
    """Narrow: shrink the widest first, never below the minimum; wide: grow names and mail to fill the line,
    never past their maximum."""
    from tui.widgets.users_table import DEFAULT_COLUMNS, fit_widths

    natural = [c.width for c in DEFAULT_COLUMNS]
    used = sum(w + 1 for w in natural)
    assert fit_widths(DEFAULT_COLUMNS, used) == natural
    narrow = fit_widths(DEFAULT_COLUMNS, 60)
    assert sum(w + 1 for w in narrow) <= 60 or narrow == [c.min_width for c in DEFAULT_COLUMNS]
    assert all(w >= c.min_width for w, c in zip(narrow, DEFAULT_COLUMNS, strict=True))
    wide = fit_widths(DEFAULT_COLUMNS, 160)
    assert sum(w + 1 for w in wide) == 160 and wide[3] > natural[3] and wide[0] > natural[0]
    assert wide[4:] == natural[4:]  # status and link keep their width
    huge = fit_widths(DEFAULT_COLUMNS, 1000)
    assert huge[:4] == [c.max_width for c in DEFAULT_COLUMNS[:4]]
