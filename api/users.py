"""``python -m api.users``: manage staff accounts (agents, editors, administrators).

Usage::

    python -m api.users create NAME --role agent|editor|admin [--display-name "Marie Dupont"]
    python -m api.users set-password NAME
    python -m api.users disable NAME
    python -m api.users enable NAME
    python -m api.users list

Passwords are read from standard input: asked twice, unechoed, on a terminal; otherwise the first line (so
``echo "$PASSWORD" | python -m api.users create ...`` works in scripts). The database is the API's
(``GUICHET_DATABASE_URL``), migrated first if needed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TextIO

from api import accounts
from api.config import get_settings
from api.db import Database, create_db_engine, run_migrations
from api.models import Role


def read_password(stdin: TextIO) -> str:
    """Read a new password: twice without echo on a terminal, else the first line of ``stdin``.

    Raises:
        accounts.AccountError: The two entries differ, or nothing was given.
    """
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise accounts.AccountError("the two passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise accounts.AccountError("no password given on standard input")
    return password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.users", description="Manage Guichet's staff accounts."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account (password on standard input)")
    create.add_argument("name", help="the login name")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--display-name", help="the name citizens and colleagues see (default: NAME)")
    for command, help_text in (
        ("set-password", "change an account's password (on standard input) and sign it out"),
        ("disable", "stop an account from signing in, and sign it out"),
        ("enable", "let a disabled account sign in again"),
    ):
        commands.add_parser(command, help=help_text).add_argument("name")
    commands.add_parser("list", help="list the accounts")
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run the command line; return the exit status (0 on success, 1 on a refused change)."""
    arguments = _parser().parse_args(argv)
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    settings = get_settings()
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            if arguments.command == "create":
                user = accounts.create_user(
                    session,
                    arguments.name,
                    read_password(stdin),
                    role=Role(arguments.role),
                    display_name=arguments.display_name,
                )
                print(f"Created {user.role} {user.username!r} ({user.display_name})", file=stdout)
            elif arguments.command == "set-password":
                accounts.set_password(session, arguments.name, read_password(stdin))
                print(f"Changed the password of {arguments.name!r}; its sessions are closed", file=stdout)
            elif arguments.command in ("disable", "enable"):
                accounts.set_active(session, arguments.name, arguments.command == "enable")
                print(f"{arguments.command.capitalize()}d {arguments.name!r}", file=stdout)
            else:
                for user in accounts.list_users(session):
                    state = "" if user.active else "  (disabled)"
                    print(f"{user.username}\t{user.role}\t{user.display_name}{state}", file=stdout)
    except accounts.AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
