"""The command-line options every ddaudit command shares, and the one way they are resolved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from scanner.config import DEFAULT_DATABASE, DEFAULT_OUTPUT, Config, load_config

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(path_type=Path),
    help="ddaudit.toml (without it: one target from DD_API_KEY / DD_APP_KEY / DD_SITE, "
         "and the default database and output). Keys are read only to collect.")
DATABASE_OPTION = click.option(
    "--database",
    help=f"SQLAlchemy URL of the snapshot database (default: the config's [scan] database, "
         f"else {DEFAULT_DATABASE}).")
OUTPUT_OPTION = click.option(
    "--output", type=click.Path(path_type=Path),
    help=f"Folder under which each scan's folder is written (default: the config's "
         f"[scan] output, else {DEFAULT_OUTPUT}).")


def store_options(func: F) -> F:
    """--config and --database: for commands that only read or change the database."""
    return CONFIG_OPTION(DATABASE_OPTION(func))


def scan_options(func: F) -> F:
    """--config, --database and --output: for commands that also use the output folder."""
    return CONFIG_OPTION(DATABASE_OPTION(OUTPUT_OPTION(func)))


def resolve_config(config_path: Path | None, database: str | None = None,
                   output: Path | None = None, *, fail_on: str | None = None,
                   env: Mapping[str, str] | None = None) -> Config:
    """The Config a command runs with, the same way for every command.

    The file named by --config (each error one line, exit 2), else the no-config defaults
    (one target from DD_API_KEY / DD_APP_KEY / DD_SITE, sqlite:///ddaudit.db, ddaudit-out);
    then --database, --output and --fail-on replace the file's values. No key is read:
    only `scan` and `collect` check them (`Config.check_credentials`) before any request.
    """
    config = load_config(config_path, env)
    overrides: dict[str, Any] = {}
    if database:
        overrides["database"] = database
    if output:
        overrides["output"] = output
    if fail_on:
        overrides["fail_on"] = fail_on
    return replace(config, **overrides) if overrides else config
