"""Text files read as users write them: UTF-8 a line at a time (a bad byte is named with its line), and the
rows of .csv, .tsv and .jsonl files as {column: value} with their line numbers, streamed. `sources.py`
builds corpora and tasks on these.

    for number, row in table("mail.csv", "text", "label"):   # a missing column is a UserError now
        print(number, row["text"])
"""

import csv
import itertools
import json

from .config import UserError

def lines(path):
    """Yield (line number, line) of a UTF-8 file, decoded a line at a time: a bad byte is named with its line."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror})") from None
    with f:
        for number, raw in enumerate(f, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")  # -sig: a BOM is no text
            except UnicodeDecodeError:
                raise UserError(f"{path}:{number}: not UTF-8 text (save the file as UTF-8)") from None


def json_object(path, number, line):
    """(number, the object on .jsonl line `number`); anything but an object is a UserError naming the line."""
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if not isinstance(row, dict):
        raise UserError(f"{path}:{number}: not a JSON object (a .jsonl file holds one object a line)")
    return number, row


def csv_rows(path):
    """Yield (line number, cells) of a .csv or .tsv file; a row quoted over several lines gets its last line."""
    csv.field_size_limit(2**31 - 1)  # a document may be longer than csv's default cell of 128 KiB
    reader = csv.reader((line for _, line in lines(path)), delimiter="\t" if path.lower().endswith(".tsv") else ",")
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as e:
        raise UserError(f"{path}:{reader.line_num}: {e}") from None


def table(path, *wanted):
    """The rows of a .csv, .tsv or .jsonl file as (line number, {column: value}), streamed. The header (a
    .jsonl: its first object) is read now: a column of `wanted` that it lacks is a UserError before any work."""
    if path.lower().endswith(".jsonl"):
        rows = (json_object(path, number, line) for number, line in lines(path) if line.strip())
        first = next(rows, None)
        columns, rows = (list(first[1]) if first else []), itertools.chain([first] if first else [], rows)
    else:
        rows = csv_rows(path)
        columns = [column.strip() for column in next(rows, (0, []))[1]]
        rows = ((number, dict(zip(columns, cells))) for number, cells in rows if any(c.strip() for c in cells))
    for column in wanted:
        if column not in columns:
            raise UserError(f"{path}: no column {column!r} (its columns: {', '.join(columns) or 'none'})")
    return rows


def cell(value):
    """A value as text, stripped: a .jsonl may hold numbers or null where a .csv holds strings."""
    return "" if value is None else str(value).strip()
