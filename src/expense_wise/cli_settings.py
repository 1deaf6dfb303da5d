"""Settings for a command-line process: a configuration problem ends it with exit code 2."""

from __future__ import annotations

import sys

import click

from expense_wise.settings import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        click.echo(f"expense-wise: {error}", err=True)
        sys.exit(2)
    except Exception as error:  # e.g. Secrets Manager unreachable
        click.echo(f"expense-wise: could not load configuration: {error}", err=True)
        sys.exit(2)
