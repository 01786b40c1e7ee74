"""`ervaringswijzer import-episodes FILE` (DESIGN §4.2)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from survey.db import get_session
from survey.episodes.csv import count_data_lines
from survey.episodes.importing import ImportRejected, import_episodes
from survey.region.operations import RegionError


@click.command("import-episodes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--provider",
    "provider",
    metavar="SLUG",
    help="The provider the file comes from (may be left out while there is only one).",
)
@with_appcontext
def import_episodes_command(file: Path, provider: str | None) -> None:
    """Import ended care trajectories of one provider from a CSV file (all or nothing)."""
    total = count_data_lines(file)
    with (
        file.open("rb") as stream,
        click.progressbar(length=total, label="Importing", file=sys.stderr, show_pos=True) as bar,
    ):
        progress = bar.update if total >= 2000 else None
        try:
            result = import_episodes(get_session(), stream, provider=provider, progress=progress)
        except RegionError as problem:
            raise click.UsageError(str(problem)) from None
        except ImportRejected as rejected:
            click.echo(f"Import refused: {rejected.summary()}. Nothing was saved.", err=True)
            for error in rejected.errors:
                click.echo(f"  {error}", err=True)
            sys.exit(1)
    click.echo(result.summary())
