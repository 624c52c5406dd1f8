"""sfsync's core: the sync package shared by the terminal app, the command line and the REST API.

Nothing under ``core`` imports Textual or Rich (``tests/test_import_hygiene.py`` checks).
"""
