"""Reading the harness's input files into models, with one error style.

Every YAML or JSON file the harness reads into a model (`gate.yaml`, `slo.yaml`,
`cluster-shape.yaml`, `rehearsal.yaml`, a capacity file, `run.json`, `verdict.json`) goes
through here. A missing file, bytes that are not UTF-8 text, invalid syntax, a document that is
not a mapping and a field that fails validation each raise one `InputFileError` naming the file
and, where there is one, the field: one line, exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from aideon_resilience.errors import InputFileError, from_validation

M = TypeVar("M", bound=BaseModel)
Syntax = Literal["yaml", "json"]
# turns a validation error of the parsed data into the one-line error naming the field
ValidationReporter = Callable[[object, ValidationError, dict[str, Any]], InputFileError]


def in_directory(path: Path, name: str) -> Path:
    """The file itself, or the file called `name` in a directory (an environment directory)."""
    return path / name if path.is_dir() else path


def read_text(file: Path, missing: str = "no such file") -> str:
    """The file's text; a missing file, an unreadable one or bytes that are not UTF-8 are input errors."""
    if not file.is_file():
        raise InputFileError(file, missing)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputFileError(file, f"cannot be read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(file, f"not UTF-8 text (byte {exc.start}): a binary file?") from None


def parse(text: str, source: object, syntax: Syntax) -> Any:
    """A YAML or JSON document; a syntax error names the line."""
    if syntax == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(source, f"invalid JSON (line {exc.lineno})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(source, f"invalid YAML{where}") from None


def syntax_of(file: Path) -> Syntax:
    return "json" if file.suffix.lower() == ".json" else "yaml"


def mapping(data: Any, source: object, expected: str) -> dict[str, Any]:
    """The document as a mapping; anything else (empty, a list, a scalar) names what was expected."""
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise InputFileError(source, f"expected {expected}, got {got}")
    return data


def read_mapping(file: Path, expected: str, missing: str = "no such file") -> dict[str, Any]:
    """A YAML or JSON file (by its suffix) whose document must be a mapping."""
    return mapping(parse(read_text(file, missing), file, syntax_of(file)), file, expected)


def validate(model: type[M], data: dict[str, Any], source: object,
             report: ValidationReporter | None = None) -> M:
    """The model of parsed data; the first validation error names the file and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise (report(source, exc, data) if report else from_validation(source, exc)) from None


def load_model(file: Path, model: type[M], expected: str, missing: str = "no such file",
               report: ValidationReporter | None = None) -> M:
    """Read, parse and validate one file into `model`; every problem is one InputFileError."""
    return validate(model, read_mapping(file, expected, missing), file, report)
