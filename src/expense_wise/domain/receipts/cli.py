"""`expense-wise receipts extract`: read receipt files locally, without the API or a database.

Useful to check what the OCR job would store for a receipt, and to debug extraction rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from expense_wise.settings import DEFAULT_OCR_ENGINE, OCR_ENGINES, OcrEngine

if TYPE_CHECKING:
    from expense_wise.domain.receipts.extraction import ExtractedFields
    from expense_wise.domain.receipts.images import ImageRejected


@click.group(name="receipts")
def receipts() -> None:
    """Receipt tools that work on local files."""


@receipts.command(name="extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file per line.")
@click.option(
    "--engine",
    type=click.Choice(OCR_ENGINES),
    default=DEFAULT_OCR_ENGINE,
    envvar="OCR_ENGINE",
    show_default=True,
    help="OCR engine (default: OCR_ENGINE).",
)
def extract(files: tuple[Path, ...], as_json: bool, engine: OcrEngine) -> None:
    """OCR each FILE and print the merchant, date, total and currency found on it."""
    # Imported here: every other `expense-wise` command would pay for Tesseract's bindings.
    from expense_wise.domain.receipts import extraction
    from expense_wise.domain.receipts.images import ImageRejected

    failed = False
    if not as_json:
        click.echo(f"{'FILE':<32} {'MERCHANT':<36} {'DATE':<10} {'TOTAL':>10} CUR")
    for path in files:
        try:
            fields = extraction.extract(path.read_bytes(), engine)
        except (OSError, ImageRejected) as exc:
            failed = True
            _print_error(path, _error_message(exc), as_json)
            continue
        if as_json:
            click.echo(json.dumps(_as_record(path, fields)))
        else:
            click.echo(_as_table_row(path, fields))
    if failed:
        raise SystemExit(1)


def _as_record(path: Path, fields: ExtractedFields) -> dict[str, object]:
    return {
        "file": str(path),
        "merchant": fields.merchant,
        "date": fields.date.isoformat() if fields.date else None,
        "total": str(fields.total) if fields.total is not None else None,
        "currency": fields.currency,
        "confidence": fields.confidence,
        "needs_review": fields.needs_review,
        "review_fields": fields.review_fields,
    }


def _as_table_row(path: Path, fields: ExtractedFields) -> str:
    merchant = (fields.merchant or "-")[:36]
    date = fields.date.isoformat() if fields.date else "-"
    total = str(fields.total) if fields.total is not None else "-"
    return f"{path.name[:32]:<32} {merchant:<36} {date:<10} {total:>10} {fields.currency or '-'}"


def _error_message(exc: OSError | ImageRejected) -> str:
    if isinstance(exc, OSError):
        return f"cannot read file: {exc.strerror or exc}"
    return str(exc)


def _print_error(path: Path, message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"file": str(path), "error": message}))
    else:
        click.echo(f"{path.name[:32]:<32} ERROR: {message}", err=True)


if __name__ == "__main__":
    receipts()
