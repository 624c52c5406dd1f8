"""``sfsync secrets rotate-key``: a new key for the secrets at rest, every secret encrypted again with it.

Prints the key ids (``sfsync:…``, a hash, not the key) and the names of the fields it re-encrypted, never a
secret. A secret that cannot be decrypted now (lost key, IDM's keystore) stops it before anything changes.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "secrets", help="manage the key that encrypts the secrets at rest",
        description="clientSecret and refreshToken are stored in conf/provisioner.openicf-salesforce.json as "
                    "IDM-shaped $crypto objects (AES-256-GCM); the key is security/sfsync.key (0600).")
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    rotate = actions.add_parser(
        "rotate-key", help="make a new key and re-encrypt every secret with it",
        description="Write a new key beside the old one, re-encrypt every secret in the provisioner file with "
                    "it, read the file back, then replace the old key (deleted).")
    rotate.add_argument("-p", "--project", metavar="DIR", default=argparse.SUPPRESS,
                        help="the project folder (as sfsync -p DIR)")
    rotate.set_defaults(func=handle_rotate)


def handle_rotate(args: argparse.Namespace) -> int:
    from core.config import Project, rotate_key

    done = rotate_key(Project.resolve(args.project))
    print(f"New key {done.new_id} in {done.key_path} (mode 0600)"
          + (f"; the old key {done.old_id} is deleted." if done.old_id else "; there was no key before."))
    if done.fields:
        print(f"Re-encrypted {', '.join(done.fields)} in {done.config_path}.")
    else:
        print(f"No secret is set in {done.config_path}: nothing to re-encrypt.")
    if done.discarded:
        print(f"Deleted keys left by an interrupted rotation: {', '.join(done.discarded)}.")
    return 0
