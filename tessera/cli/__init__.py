"""The typer CLI: thin commands over core, `--json` on everything that reads."""
