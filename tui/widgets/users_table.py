"""A virtual managed-user table: renders only the rows on screen and asks a page source for them.

Textual's DataTable measures every cell up front (about 21 s before the first paint at 100,000 rows), so this
is a Line-API ``ScrollView`` in toolong's manner: the virtual height is the row count, ``render_line`` draws
the visible rows from a small page cache, and missing pages are fetched by thread workers that post
:class:`UsersPageLoaded`. Paging, filtering and sorting happen in ``core`` (SQLite), never here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rich.cells import set_cell_size
from rich.segment import Segment
from textual import events, on
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.messages import UsersCounted, UsersPageLoaded

PAGE_SIZE = 100
MAX_PAGES = 64


class PageSource(Protocol):
    """Where rows come from; both calls run in a thread worker, never on the event loop."""

    def count(self, query_filter: str, sort: str | None) -> int: ...

    def page(self, query_filter: str, sort: str | None, offset: int, limit: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    #: the narrowest the column may get when the terminal is too narrow for every natural width
    min_width: int = 6
    #: the widest it may grow on a wide terminal (0: keeps its natural width); names and mail grow
    max_width: int = 0


def fit_widths(columns: tuple[Column, ...], available: int) -> list[int]:
    """Natural widths, grown to fill a wide terminal (the growable columns in turn, up to ``max_width``), or
    shrunk on a narrow one (the widest first, never below ``min_width``)."""
    widths = [c.width for c in columns]
    excess = sum(w + 1 for w in widths) - available
    while excess < 0:  # room to spare: one cell at a time to the growable column that is furthest from its max
        candidates = [i for i, c in enumerate(columns) if c.max_width and widths[i] < c.max_width]
        if not candidates:
            break
        neediest = min(candidates, key=lambda i: (widths[i] / columns[i].max_width, i))
        widths[neediest] += 1
        excess += 1
    while excess > 0:
        candidates = [i for i, c in enumerate(columns) if widths[i] > c.min_width]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


DEFAULT_COLUMNS: tuple[Column, ...] = (
    Column("userName", "userName", 24, 14, 48),
    Column("givenName", "givenName", 12, 9, 24),
    Column("sn", "sn", 14, 9, 28),
    Column("mail", "mail", 28, 14, 56),
    Column("accountStatus", "status", 8, 8),
    Column("_link", "link", 6, 6),
)


class UsersTable(ScrollView, can_focus=True):
    """Scrolls through any number of rows; only the visible ones (plus a page around them) are ever loaded."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", show=True),
        Binding("s", "cycle_sort", "Sort", show=True),
        Binding("r", "reverse_sort", "Reverse", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "users-table--header", "users-table--cursor", "users-table--loading", "users-table--sorted",
    }

    DEFAULT_CSS = """
    UsersTable { height: 1fr; background: $surface; }
    UsersTable > .users-table--header { text-style: bold; background: $panel; color: $text; }
    UsersTable > .users-table--sorted { text-style: bold underline; background: $panel; color: $accent; }
    UsersTable > .users-table--cursor { background: $block-cursor-blurred-background; }
    UsersTable:focus > .users-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    UsersTable > .users-table--loading { color: $text-muted; }
    """

    class RowSelected(Message):
        """Enter on a row: the row as the source returned it."""

        def __init__(self, row: dict[str, Any]) -> None:
            self.row = row
            super().__init__()

    class QueryChanged(Message):
        """The total after a filter or sort change is known (for the screen's status line)."""

        def __init__(self, total: int, query_filter: str, sort: str | None) -> None:
            self.total = total
            self.query_filter = query_filter
            self.sort = sort
            super().__init__()

    def __init__(self, source: PageSource | None = None, *, columns: tuple[Column, ...] = DEFAULT_COLUMNS,
                 link_of: Callable[[dict[str, Any]], str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.columns = columns
        self.link_of = link_of
        self.query_filter = "true"
        self.sort: str | None = "userName"
        self.total = 0
        self.cursor_row = 0
        self.generation = 0
        self._pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._pending: set[int] = set()
        self._widths = [c.width for c in columns]
        self._width = sum(w + 1 for w in self._widths)
        self._counted = False
        self._count_generation = -1
        #: True while ``total`` is only the first page's length (the exact count is on its way)
        self.provisional = False

    def on_mount(self) -> None:
        if self.source is not None and not self._counted:
            self.reload()

    # ---- data ---------------------------------------------------------------------------------------
    def set_source(self, source: PageSource) -> None:
        self.source = source
        self.reload()

    def set_query(self, query_filter: str, sort: str | None = None, *, keep_sort: bool = True) -> None:
        """Apply a new IDM query filter (and sort); the count and the first page load in workers."""
        self.query_filter = query_filter or "true"
        if not keep_sort:
            self.sort = sort
        elif sort is not None:
            self.sort = sort
        self.reload()

    def reload(self) -> None:
        """Drop cached pages and fetch the count and the page under the cursor again."""
        self.generation += 1
        self._pages.clear()
        self._pending.clear()
        self._counted = False
        if self.source is None:
            return
        first = (self.cursor_row // PAGE_SIZE) if self.total else 0
        if first != 0:
            self._request_count()  # the first page cannot tell the total: count alongside
        # else counted only once the first page is in, and only if it is full: a short first page is the
        # total, and a count running beside the page (two scans of a filter on a two-core machine) delays it
        self._request_page(first)

    def _request_count(self) -> None:
        gen, flt, sort, source = self.generation, self.query_filter, self.sort, self.source
        if source is None or self._count_generation == gen:
            return  # once per reload
        self._count_generation = gen

        def count() -> None:
            total = source.count(flt, sort)
            self.post_message(UsersCounted(gen, total))

        self.run_worker(count, thread=True, exclusive=True, group="users-count", exit_on_error=False,
                        description="Counting users")

    def _request_page(self, page: int) -> None:
        if self.source is None or page in self._pending or page in self._pages or page < 0:
            return
        self._pending.add(page)
        gen, flt, sort, source = self.generation, self.query_filter, self.sort, self.source

        def load() -> None:
            rows = source.page(flt, sort, page * PAGE_SIZE, PAGE_SIZE)
            self.post_message(UsersPageLoaded(gen, page * PAGE_SIZE, rows))

        self.run_worker(load, thread=True, group=f"users-page-{page % 4}", exit_on_error=False,
                        description="Loading users")

    @on(UsersCounted)
    def _counted_users(self, message: UsersCounted) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        self.total = message.total
        self._counted = True
        self.provisional = False
        self.cursor_row = min(self.cursor_row, max(0, self.total - 1))
        self.virtual_size = Size(self._width, self.total + 1)
        self.refresh()
        self.post_message(self.QueryChanged(self.total, self.query_filter, self.sort))

    @on(UsersPageLoaded)
    def _page_loaded(self, message: UsersPageLoaded) -> None:
        message.stop()
        page = message.offset // PAGE_SIZE
        self._pending.discard(page)
        if message.generation != self.generation:
            return
        self._pages[page] = message.rows
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        if page == 0 and not self._counted:
            # the first page is often in before the exact count (a filter that scans): show it now; a short
            # first page is the exact total, a full one a provisional total the count will correct
            short = len(message.rows) < PAGE_SIZE
            self.total = len(message.rows)
            self.provisional = not short
            self._counted = short
            self.virtual_size = Size(self._width, self.total + 1)
            self.post_message(self.QueryChanged(self.total, self.query_filter, self.sort))
            if not short:
                self._request_count()
        self.refresh()

    def row(self, index: int) -> dict[str, Any] | None:
        """The row at ``index`` if its page is loaded, else ``None`` (and its page is requested)."""
        page = index // PAGE_SIZE
        rows = self._pages.get(page)
        if rows is None:
            self._request_page(page)
            return None
        self._pages.move_to_end(page)
        offset = index - page * PAGE_SIZE
        return rows[offset] if offset < len(rows) else None

    def update_row(self, user: dict[str, Any]) -> None:
        """Replace a cached row in place after an edit (no reload, the cursor stays)."""
        for rows in self._pages.values():
            for i, row in enumerate(rows):
                if row.get("_id") == user.get("_id"):
                    rows[i] = {**row, **user}
        self.refresh()

    @property
    def loaded(self) -> bool:
        """True once the rows under the cursor are on screen (the total may still be provisional)."""
        if self.total == 0:
            return self._counted
        return (self.cursor_row // PAGE_SIZE) in self._pages

    @property
    def counted(self) -> bool:
        """True once the exact total is known."""
        return self._counted

    # ---- rendering ----------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            return self._header_strip().crop(scroll_x, scroll_x + width).extend_cell_length(
                width, self.get_component_rich_style("users-table--header"))
        index = scroll_y + y - 1
        base = self.rich_style
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row(index)
        if row is None:
            style = self.get_component_rich_style("users-table--loading")
            return Strip([Segment(set_cell_size(" …", width), style)], width)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("users-table--cursor")
        segments = []
        for column, cell_width in zip(self.columns, self._widths, strict=True):
            value = self._cell(row, column.key)
            segments.append(Segment(set_cell_size(value, cell_width) + " ", style))
        strip = Strip(segments, self._width).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, style)

    def _cell(self, row: dict[str, Any], key: str) -> str:
        if key == "_link":
            return self.link_of(row) if self.link_of else str(row.get("_link", ""))
        value = row.get(key)
        if value is None:
            return ""
        return str(value).replace("\n", " ")

    def _header_strip(self) -> Strip:
        header = self.get_component_rich_style("users-table--header")
        sorted_style = self.get_component_rich_style("users-table--sorted")
        sort_key = (self.sort or "").lstrip("-")
        arrow = "▼" if (self.sort or "").startswith("-") else "▲"
        segments = []
        for column, cell_width in zip(self.columns, self._widths, strict=True):
            title = column.title + (f" {arrow}" if column.key == sort_key else "")
            style = sorted_style if column.key == sort_key else header
            segments.append(Segment(set_cell_size(title, cell_width) + " ", style))
        return Strip(segments, self._width)

    def on_resize(self, event: events.Resize) -> None:
        # leave room for the vertical scrollbar, which appears once rows outnumber the height
        self._widths = fit_widths(self.columns, event.size.width - self.styles.scrollbar_size_vertical)
        self._width = sum(w + 1 for w in self._widths)
        self.virtual_size = Size(self._width, self.total + 1)

    # ---- cursor and actions -------------------------------------------------------------------------
    def _move_to(self, row: int) -> None:
        if self.total == 0:
            return
        self.cursor_row = max(0, min(self.total - 1, row))
        visible = max(1, self.size.height - 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor_row + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._move_to(self.total - 1 if where < 0 else where)

    def action_select(self) -> None:
        row = self.row(self.cursor_row) if self.total else None
        if row is not None:
            self.post_message(self.RowSelected(row))

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in self.columns if not c.key.startswith("_")]
        current = (self.sort or "").lstrip("-")
        nxt = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.set_query(self.query_filter, nxt)

    def action_reverse_sort(self) -> None:
        if self.sort:
            self.set_query(self.query_filter, self.sort[1:] if self.sort.startswith("-") else f"-{self.sort}")

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x + self.scroll_offset.x
            for column, cell_width in zip(self.columns, self._widths, strict=True):
                if x < cell_width + 1:
                    if not column.key.startswith("_"):
                        same = (self.sort or "").lstrip("-") == column.key
                        self.set_query(self.query_filter, f"-{column.key}" if same and self.sort == column.key
                                       else column.key)
                    return
                x -= cell_width + 1
            return
        self._move_to(self.scroll_offset.y + event.y - 1)
