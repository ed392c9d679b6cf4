from tessera.cli.main import run

run()
