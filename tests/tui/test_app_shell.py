"""The shell: screen switching, the background build of the other screens, quitting cleanly."""

from __future__ import annotations

import pytest
from pilot_helpers import wait_for

from tui.app import WARM_ORDER, make_app
from tui.screens.connector import ConnectorScreen
from tui.screens.login import LoginScreen
from tui.screens.mappings import MappingsScreen
from tui.screens.users import UsersScreen
from tui.widgets.status_header import StatusHeader
from tui.widgets.users_table import UsersTable


@pytest.mark.warm_up
async def test_other_screens_are_built_in_the_background_and_show_at_once(project, seed_users):
    seed_users(project, 120)
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: all(m in app._screen_stacks for m in WARM_ORDER), "the background build")
        assert isinstance(app.screen, ConnectorScreen)  # built, not shown
        users = app._screen_stacks["users"][0]
        await wait_for(pilot, lambda: users.query_one(UsersTable).loaded, "the users page, fetched ahead")
        await pilot.press("4")
        await pilot.pause()
        assert app.screen is users and users.query_one(UsersTable).total == 120


async def test_keys_and_f_keys_switch_screens_and_the_header_follows(project):
    app = make_app(project, watch_runs=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, screen_type, title in (("2", LoginScreen, "Login"), ("f3", MappingsScreen, "Mappings"),
                                        ("4", UsersScreen, "Users"), ("f1", ConnectorScreen, "Connector")):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type)
            assert app.screen.query_one(StatusHeader).screen_title == title


async def test_quitting_while_screens_are_still_being_built_is_clean(project):
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
    assert app.return_code == 0
