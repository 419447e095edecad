"""Reading a users CSV file whole: UTF-8 (BOM or not), comma-delimited, errors by row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bodyworn.controller.users.rules import clean_cd_username, clean_name, clean_user_id

COLUMNS = ("name", "user_id", "cd_username", "camera_profile")
REQUIRED = ("name", "user_id", "camera_profile")
MAX_BYTES = 16 * 1024 * 1024
# The file sent in the page's form: room for the multipart framing and the CSRF field.
FORM_MAX_BYTES = MAX_BYTES + 64 * 1024
MAX_ROWS = 100_000
# Spreadsheet headings people type; all map to our column names.
ALIASES = {
    "name": "name", "user_name": "name",
    "user_id": "user_id", "userid": "user_id", "id": "user_id",
    "cd_username": "cd_username", "content_destination_user_name": "cd_username",
    "username": "cd_username",
    "camera_profile": "camera_profile", "profile": "camera_profile",
}


@dataclass(frozen=True)
class CsvRow:
    """One user as the file gives it; row is the file's line number where the record starts."""

    row: int
    name: str
    user_id: str | None
    cd_username: str | None
    camera_profile: str | None


@dataclass(frozen=True)
class Issue:
    """Something the file must fix; row is None for the file as a whole."""

    row: int | None
    field: str
    message: str


@dataclass(frozen=True)
class ParsedCsv:
    """The rows that read cleanly, and every issue found."""

    rows: tuple[CsvRow, ...]
    issues: tuple[Issue, ...]
    has_cd_username: bool


def template(cd_username_supported: bool) -> bytes:
    """The CSV template: the header and one example row, UTF-8 with a BOM (spreadsheets)."""
    columns = [c for c in COLUMNS if cd_username_supported or c != "cd_username"]
    example = {"name": "Alex Example", "user_id": "A1234", "cd_username": "alex@example.org",
               "camera_profile": "Default"}
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([example[c] for c in columns])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def _column(heading: str) -> str:
    key = heading.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key, key)


def _header(cells: list[str], line: int) -> tuple[list[str], list[Issue]]:
    issues: list[Issue] = []
    if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
        sep = "';'" if ";" in cells[0] else "a tab"
        return [], [Issue(line, "columns", f"the file is separated by {sep}; save it as "
                                          "CSV UTF-8 (comma delimited)")]
    columns = [_column(c) for c in cells]
    for heading, column in zip(cells, columns, strict=True):
        if column not in COLUMNS:
            issues.append(Issue(line, "columns", f"unknown column '{heading.strip()}'"))
    for column in sorted({c for c in columns if columns.count(c) > 1}):
        issues.append(Issue(line, "columns", f"column '{column}' appears more than once"))
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        said = "missing column: " if len(missing) == 1 else "missing columns: "
        issues.append(Issue(line, "columns", said + ", ".join(missing)))
    return columns, issues


def parse(raw: bytes, *, cd_username_supported: bool) -> ParsedCsv:
    """Read and check the whole file; nothing here touches the database."""
    if len(raw) > MAX_BYTES:
        return ParsedCsv((), (Issue(None, "file", f"larger than {MAX_BYTES // 1048576} MiB"),),
                         False)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return ParsedCsv((), (Issue(line, "encoding", f"byte {exc.start + 1} is not UTF-8; "
                                                      "save the file as CSV UTF-8"),), False)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return ParsedCsv((), (Issue(line, "encoding", "contains a NUL character; this is not "
                                                      "a text file"),), False)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[CsvRow] = []
    issues: list[Issue] = []
    columns: list[str] | None = None
    seen: dict[str, int] = {}
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                columns, header_issues = _header(record, line)
                if header_issues:
                    return ParsedCsv((), tuple(header_issues), False)
                continue
            if len(rows) + len(issues) >= MAX_ROWS:
                issues.append(Issue(line, "file", f"more than {MAX_ROWS} rows"))
                break
            if len(record) != len(columns):
                issues.append(Issue(line, "row", f"has {len(record)} fields; the header has "
                                                 f"{len(columns)}"))
                continue
            row, row_issues = _row(dict(zip(columns, record, strict=True)), line,
                                   cd_username_supported)
            issues += row_issues
            if row is None:
                continue
            if row.user_id is not None:
                first = seen.setdefault(row.user_id, line)
                if first != line:
                    issues.append(Issue(line, "user_id", f"user ID '{row.user_id}' is also on "
                                                         f"row {first}"))
                    continue
            rows.append(row)
    except csv.Error as exc:
        issues.append(Issue(reader.line_num, "row", f"cannot be read as CSV: {exc}"))
    if columns is None:
        issues.append(Issue(None, "columns", "the file is empty; start from the template"))
    return ParsedCsv(tuple(rows), tuple(issues),
                     columns is not None and "cd_username" in columns)


def _row(cells: dict[str, str], line: int, cd_supported: bool
         ) -> tuple[CsvRow | None, list[Issue]]:
    issues: list[Issue] = []
    name, error = clean_name(cells["name"])
    if error:
        issues.append(Issue(line, "name", error))
    user_id, error = clean_user_id(cells["user_id"])
    if error:
        issues.append(Issue(line, "user_id", error))
    cd_username, error = clean_cd_username(cells.get("cd_username"))
    if error:
        issues.append(Issue(line, "cd_username", error))
    elif cd_username is not None and not cd_supported:
        issues.append(Issue(line, "cd_username", "the content destination does not take "
                                                 "user names; leave the column empty"))
    profile = " ".join(cells["camera_profile"].split()) or None
    if issues:
        return None, issues
    return CsvRow(line, name, user_id, cd_username, profile), []
