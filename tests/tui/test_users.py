"""The Users screen over a real SQLite repository: the table, the filter box (words or IDM filter)."""

from __future__ import annotations

from textual.widgets import Input, Static

from tui.app import make_app
from tui.widgets.users_table import UsersTable


async def open_users(pilot) -> UsersTable:
    app = pilot.app
    await pilot.press("4")
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query(UsersTable)
        if table and table.first().loaded and table.first().counted:
            return table.first()
    raise AssertionError("users table never loaded")


async def test_users_open_and_plain_words_filter_them(project, seed_users):
    seed_users(project, 500)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await open_users(pilot)
        assert table.total == 500
        assert "500 users" in str(app.screen.query_one("#users-status", Static).render())
        app.screen.query_one("#users-filter", Input).value = "grace grace.0004"
        await pilot.press("slash")
        await pilot.press("enter")
        table = await open_users(pilot)
        # grace is every 5th user (i % 5 == 2); "grace.0004" (a userName prefix) narrows to 00042, 00047
        assert table.total == 2
        assert {table.row(0)["userName"], table.row(1)["userName"]} == {
            "grace.00042@example.com", "grace.00047@example.com"}


async def test_an_idm_filter_is_applied_and_a_bad_one_is_explained(project, seed_users):
    seed_users(project, 50)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await open_users(pilot)
        box = app.screen.query_one("#users-filter", Input)
        box.value = 'sn eq "Turing"'
        box.focus()
        await pilot.press("enter")
        table = await open_users(pilot)
        assert table.total == 10
        box.value = 'sn eq "Turing'
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        status = str(app.screen.query_one("#users-status", Static).render())
        assert "filter:" in status and "position" in status
        assert table.total == 10  # the last good filter stays


def test_counting_a_filter_with_few_matches_reads_its_indexes_not_every_user(project, seed_users):
    """The count used to read a page ordered by insertion, which SQLite answers by walking every row when few
    match (0.2-0.3 s at 100,000). Measured in SQLite VM steps, not time: a count of a prefix no one has must
    cost a small fraction of a count of everyone (a scan of one index), whatever the size."""
    from tui.backend import Backend, words_to_filter

    seed_users(project, 30_000)  # below ~25,000 users SQLite's statistics favour the indexes either way
    backend = Backend(project)
    source = backend.user_source()
    conn = backend.repo.db.conn()  # this thread's connection, the one the count below runs on
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    def cost(query_filter: str) -> tuple[int, int]:
        steps[0] = 0
        conn.set_progress_handler(step, 100)
        try:
            total = source.count(query_filter, "userName")
        finally:
            conn.set_progress_handler(None, 100)
        return total, steps[0]

    try:
        everyone_total, everyone = cost("true")
        nobody_total, nobody = cost(words_to_filter("zq"))
        few_total, few = cost(words_to_filter("ada.0001"))
    finally:
        backend.close()
    assert (everyone_total, nobody_total) == (30_000, 0)
    assert few_total == 2  # ada.00011 and ada.00016
    assert nobody * 20 < everyone, (nobody, everyone)
    assert few * 20 < everyone, (few, everyone)
