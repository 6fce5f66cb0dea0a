"""``cityhub import``: the command line of the importer (kept light: the importer itself is
loaded when the command runs)."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import click

_EPILOG = """\b
Exit status: 0 every row imported, 2 some rows rejected, 1 the import failed.
Mapping file reference, resuming, projections: docs/import.md.
"""


@click.command(
    "import",
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-m", "--mapping", help="TOML mapping file (CSV and GeoJSON input).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "geojson", "ngsi-ld"]),
    default="auto",
    show_default=True,
    help="Input format (auto: from the file name and first bytes).",
)
@click.option(
    "--encoding",
    default="auto",
    show_default=True,
    help="CSV text encoding; auto tries UTF-8, then CP949 (EUC-KR).",
)
@click.option("--delimiter", help="CSV field separator [, or tab for .tsv].")
@click.option(
    "--url",
    help="Hub to write to, through the NGSI-LD batch API [$CITYHUB_URL or http://127.0.0.1:1026].",
)
@click.option("--database", help="Write straight into this database (sqlite:///…, postgresql://…).")
@click.option("--data-dir", help="Write straight into the SQLite database of this data dir.")
@click.option("--tenant", help="NGSI-LD tenant [the mapping's tenant, else the default tenant].")
@click.option("--batch-size", type=int, default=1000, show_default=True, help="Entities per batch.")
@click.option(
    "--concurrency", type=int, default=4, show_default=True, help="Batches written at once."
)
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write rejected rows to this CSV.")
@click.option(
    "--show-rejects",
    type=int,
    default=10,
    show_default=True,
    help="Rejected rows listed in the summary.",
)
@click.option(
    "--state", type=click.Path(dir_okay=False), help="Resume state file [FILE.import-state.json]."
)
@click.option("--force", is_flag=True, help="Import again a file that was already imported.")
@click.option("--dry-run", is_flag=True, help="Read and convert only; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or remarks; only the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Also show peak memory and the state file.")
def import_command(file: str, fmt: str, **flags: Any) -> None:
    """Import a CSV, GeoJSON or NGSI-LD JSON file into the hub.

    Rows become entities through the mapping file; the entity ids it builds make the import
    idempotent (entities are upserted), and an interrupted import continues where it stopped
    when run again.
    """
    from cityhub.importer.errors import ImportFailed
    from cityhub.importer.pipeline import ImportOptions, run_import

    opts = ImportOptions(path=file, format=fmt, **flags)

    def echo(text: str) -> None:
        click.echo(text)

    def note(text: str) -> None:
        click.echo(f"cityhub import: {text}", err=True)

    try:
        result = run_import(opts, echo=echo, note=note)
    except ImportFailed as err:
        click.echo(f"cityhub import: error: {err}", err=True)
        sys.exit(1)
    except Exception as err:  # a bug: still one line, the traceback with --verbose
        if opts.verbose:
            traceback.print_exc()
        click.echo(f"cityhub import: internal error: {type(err).__name__}: {err}", err=True)
        sys.exit(1)
    if result.already_imported:
        click.echo(
            f"{file} is already imported into {result.target} (tenant "
            f"{result.tenant or '(default)'}): {result.total_rows} rows, "
            f"{result.total_rejected} rejected; --force imports it again"
        )
        sys.exit(0)
    sys.exit(result.exit_code)
