"""The official test CSV: which columns each task reads and the checks a row passes before queueing."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

# The official inference.py --task ids.
TASKS = {0: "avg", 1: "ravg", 2: "a2v", 3: "v2a"}
TASK_TITLES = {0: "AVG (image + caption -> video and speech)",
               1: "RAVG (AVG with a reference voice)",
               2: "A2V (image + speech -> video)",
               3: "V2A (silent video -> its speech)"}
COLUMNS = ("data_id", "ref_image_path", "ref_audio_path", "ref_speech_content", "video_path", "audio_path",
           "speech_content", "prompt", "lang")
# Columns holding a file, per task, in the order they are checked.
FILE_COLUMNS: dict[int, tuple[str, ...]] = {0: ("ref_image_path",), 1: ("ref_image_path", "ref_audio_path"),
                                            2: ("ref_image_path", "audio_path"), 3: ("video_path",)}
TEXT_COLUMNS: dict[int, tuple[str, ...]] = {0: ("speech_content",),
                                            1: ("speech_content", "ref_speech_content"),
                                            2: ("speech_content",), 3: ("speech_content",)}
LANGUAGES = ("en", "zh")


class RowError(ValueError):
    """A row that is bad in itself (missing file, empty text): it fails once and is not retried."""


@dataclass
class Row:
    number: int                                   # 1-based, as a spreadsheet shows it (header = 0)
    data_id: str
    values: dict[str, str]
    files: dict[str, Path] = field(default_factory=dict)   # file column -> resolved path


def columns_help() -> str:
    """The --help / README text: the columns each task needs and how relative paths resolve."""
    lines = ["CSV columns (the official test CSV's header; extra columns are ignored):",
             "  data_id            the output's name: <data_id>.mp4 (unique per CSV; default row<N>)",
             "  prompt             the caption of the video (may be empty)",
             "  speech_content     the words to speak (needed by every task)",
             "  lang               en or zh (default en)"]
    lines.append("Files and texts each task needs:")
    for task, title in TASK_TITLES.items():
        needed = ", ".join(FILE_COLUMNS[task] + TEXT_COLUMNS[task][1:])
        lines.append(f"  --task {task} {title}: {needed}")
    lines += ["Relative paths are read from --inputs-dir when given, else from the CSV's folder, then from",
              "the current folder (the official scripts run from their repository root)."]
    return "\n".join(lines)


def read_rows(csv_path: Path) -> list[Row]:
    """Every row of the CSV; a duplicated data_id is a RowError raised here (outputs would clash)."""
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        raw = [{(k or "").strip(): (v or "").strip() for k, v in r.items() if k} for r in csv.DictReader(f)]
    rows, seen = [], {}
    for number, values in enumerate(raw, 1):
        data_id = values.get("data_id") or f"row{number}"
        if data_id in seen:
            raise RowError(f"{csv_path}: data_id {data_id!r} appears in rows {seen[data_id]} and {number}; "
                           "each row needs its own data_id (it names the output file)")
        if "/" in data_id or "\\" in data_id or data_id.startswith("."):
            raise RowError(f"{csv_path}: row {number}: data_id {data_id!r} must be a plain file name")
        seen[data_id] = number
        rows.append(Row(number, data_id, values))
    return rows


def resolve_file(value: str, column: str, csv_path: Path, inputs_dir: Path | None) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute():
        candidates = [path]
    elif inputs_dir is not None:
        candidates = [inputs_dir / path]
    else:
        candidates = [csv_path.parent / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    where = " or ".join(str(c) for c in dict.fromkeys(candidates))
    raise RowError(f"{column} {value!r} does not exist (looked for {where})")


def check_row(row: Row, task: int, csv_path: Path, inputs_dir: Path | None) -> None:
    """Everything that can be checked without a server; fills row.files. Raises RowError."""
    for column in TEXT_COLUMNS[task]:
        if not row.values.get(column, "").strip():
            why = ("the words to speak" if column == "speech_content"
                   else "voice cloning needs the reference audio's transcript")
            raise RowError(f"column {column!r} is empty: {why}")
    lang = row.values.get("lang") or "en"
    if lang not in LANGUAGES:
        raise RowError(f"lang {lang!r} is not supported: use one of {', '.join(LANGUAGES)}")
    for column in FILE_COLUMNS[task]:
        value = row.values.get(column, "")
        if not value:
            raise RowError(f"column {column!r} is empty; --task {task} needs it")
        row.files[column] = resolve_file(value, column, csv_path, inputs_dir)
