"""One module per ``sfsync`` subcommand.

Each module defines ``register(subparsers) -> None``, which adds its subparser and sets
``func=handler`` on it; ``handler(args) -> int`` returns the exit code. ``tui.cli`` discovers every
module here, so adding a command never touches another command's file.
"""
