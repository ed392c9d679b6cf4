"""The `tui` command's non-interactive parts: the key listing, option errors, help."""

from __future__ import annotations

from tessera.tui.actions import ACTIONS
from tests.support.cli import assert_one_line_error, run


def test_keys_lists_the_registry_with_the_users_keymap(cli_env, tmp_path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "keymap.toml").write_text('[keys]\nresolve = "ctrl+x"\n')
    env = dict(cli_env, TESSERA_CONFIG_DIR=str(config))
    result = run(["tui", "--keys"], env)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    for spec in ACTIONS:
        assert any(line.startswith(spec.id + " ") for line in lines), spec.id
    resolve = next(line for line in lines if line.startswith("resolve "))
    assert "ctrl+x" in resolve
    assert str(config / "keymap.toml") in result.out


def test_bad_theme_is_one_line(cli_env) -> None:
    assert_one_line_error(run(["tui", "--theme", "purple"], cli_env), "--theme must be light or dark")


def test_help_still_works_without_opening_the_tui(cli_env) -> None:
    result = run(["--help"], cli_env)
    assert result.code == 0 and "tui" in result.out
    result = run(["tui", "--help"], cli_env)
    assert result.code == 0 and "--theme" in result.out and "--user" in result.out
