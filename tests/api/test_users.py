"""``python -m api.users``: staff accounts from the command line (run in-process, on the tests' database)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from api.config import Settings, get_settings
from api.users import main
from tests.api.helpers import run_sql


@pytest.fixture
def cli(settings: Settings) -> Callable[..., tuple[int, str, str]]:
    """Run the command line with arguments and standard input; return its status, output and errors."""

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        get_settings.cache_clear()
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stderr", err)
            status = main(list(argv), stdin=io.StringIO(stdin), stdout=out)
        get_settings.cache_clear()
        return status, out.getvalue(), err.getvalue()

    return run


def test_create_list_disable_and_enable(cli: Callable[..., tuple[int, str, str]], settings: Settings) -> None:
    assert (
        cli("create", "marie", "--role", "agent", "--display-name", "Marie D.", stdin="a long passphrase\n")[
            0
        ]
        == 0
    )
    assert cli("create", "ada", "--role", "admin", stdin="another long one\n")[0] == 0

    status, listed, _ = cli("list")
    assert status == 0
    assert listed.splitlines() == ["ada\tadmin\tada", "marie\tagent\tMarie D."]

    assert cli("disable", "marie")[0] == 0
    assert cli("list")[1].splitlines()[1].endswith("(disabled)")
    assert cli("enable", "marie")[0] == 0
    assert run_sql(settings, "SELECT active FROM users WHERE username = 'marie'") == [{"active": 1}]


@pytest.mark.parametrize(
    ("argv", "stdin", "error"),
    [
        (("create", "marie", "--role", "agent"), "short\n", "at least 10 characters"),
        (("create", "marie", "--role", "agent"), "", "no password given"),
        (("create", "bad name!", "--role", "agent"), "a long passphrase\n", "the username must be"),
        (("set-password", "nobody"), "a long passphrase\n", "no account named 'nobody'"),
        (("disable", "nobody"), "", "no account named 'nobody'"),
    ],
)
def test_refused_changes_say_why(
    cli: Callable[..., tuple[int, str, str]], argv: tuple[str, ...], stdin: str, error: str
) -> None:
    status, _, errors = cli(*argv, stdin=stdin)
    assert status == 1
    assert error in errors


def test_a_taken_username_is_refused(cli: Callable[..., tuple[int, str, str]]) -> None:
    assert cli("create", "marie", "--role", "agent", stdin="a long passphrase\n")[0] == 0
    status, _, errors = cli("create", "marie", "--role", "editor", stdin="a long passphrase\n")
    assert (status, errors.strip()) == (1, "error: the username 'marie' is already taken")


def test_a_new_password_signs_the_account_out(
    cli: Callable[..., tuple[int, str, str]], settings: Settings
) -> None:
    cli("create", "marie", "--role", "agent", stdin="a long passphrase\n")
    run_sql(
        settings,
        "INSERT INTO staff_sessions (token_hash, user_id, created_at, expires_at) "
        "SELECT 'x', id, '2026-01-01', '2999-01-01' FROM users",
    )
    assert cli("set-password", "marie", stdin="a new long passphrase\n")[0] == 0
    assert run_sql(settings, "SELECT COUNT(*) AS n FROM staff_sessions") == [{"n": 0}]
