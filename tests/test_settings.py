"""settings.py is the one reader of the environment, declares every variable, and documents them."""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from aideon_resilience import settings as settings_module
from aideon_resilience.errors import SafetyRefusal, UsageError
from aideon_resilience.settings import VARIABLES, Settings, declared, document, export

REPO = Path(__file__).resolve().parent.parent
SETTINGS_PY = REPO / "src" / "aideon_resilience" / "settings.py"
ENV_READERS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
NAME = re.compile(r"AIDEON_[A-Z0-9_]*")


# --- (a) no other module reads the environment -------------------------------------------------


def environment_reads(source: str) -> list[str]:
    """`os.environ`, `os.getenv` and the like (under any alias of os), and `from os import environ`."""
    tree = ast.parse(source)
    aliases = {"os", "posix", "nt"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name in ("os", "posix", "nt")}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "posix", "nt"):
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if a.name in ENV_READERS or a.name == "*"]
        elif (isinstance(node, ast.Attribute) and node.attr in ENV_READERS
              and isinstance(node.value, ast.Name) and node.value.id in aliases):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def python_files() -> Iterator[Path]:
    for top in ("src", "loadtests"):
        yield from sorted((REPO / top).rglob("*.py"))


def test_the_reader_finds_every_form_of_an_environment_read() -> None:
    assert environment_reads("import os\nos.environ.get('X')\n") == ["line 2: os.environ"]
    assert environment_reads("import os as o\nx = o.getenv('X')\n") == ["line 2: o.getenv"]
    assert environment_reads("from os import environ\n") == ["line 1: from os import environ"]
    assert environment_reads("from os import getenv as g\n") == ["line 1: from os import getenv"]
    assert environment_reads("import os\nos.environ['X'] = '1'\n") == ["line 2: os.environ"]
    assert environment_reads("import os\nos.path.join('a')\nenviron = {}\nenv.get('X')\n") == []
    assert environment_reads(SETTINGS_PY.read_text(encoding="utf-8")), "settings.py itself reads os.environ"


def test_settings_is_the_only_module_that_reads_the_environment() -> None:
    files = list(python_files())
    assert len(files) > 50 and REPO / "loadtests" / "gateway.py" in files
    offenders = {
        str(path.relative_to(REPO)): reads
        for path in files
        if path != SETTINGS_PY and (reads := environment_reads(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "read the environment through aideon_resilience.settings.Settings"


# --- (b) every AIDEON_* name is declared, every declared variable is used ------------------------


def text_files(*tops: str) -> Iterator[Path]:
    for top in tops:
        path = REPO / top
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for candidate in candidates:
            if "__pycache__" in candidate.parts:
                continue
            try:
                candidate.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            yield candidate


SCANNED = ("src", "loadtests", "chaos", "manifests", "Makefile", "scripts")


def mentioned_names() -> dict[str, set[str]]:
    """Every `AIDEON_*` string in the scanned files, with the files it appears in."""
    names: dict[str, set[str]] = {}
    for path in text_files(*SCANNED):
        if path == SETTINGS_PY:
            continue
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            names.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return names


def test_every_aideon_name_in_the_repository_is_declared() -> None:
    names = mentioned_names()
    assert "AIDEON_GATEWAY_URL" in names and "AIDEON_CHAOS_NAMESPACE" in names  # the scan reads code and JSON
    undeclared: dict[str, set[str]] = {}
    for name, where in names.items():
        if name.endswith("_"):  # a prefix: `AIDEON_UPSTREAM_` + service, `AIDEON_MAX_*` in prose
            if not any(v.name.startswith(name) for v in VARIABLES):
                undeclared[name] = where
            continue
        try:
            declared(name)
        except KeyError:
            undeclared[name] = where
    assert undeclared == {}, "declare these in aideon_resilience.settings.VARIABLES"


def settings_own_strings() -> set[str]:
    """String constants settings.py uses outside the VARIABLES table (its named properties)."""
    tree = ast.parse(SETTINGS_PY.read_text(encoding="utf-8"))
    table: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "VARIABLES":
            table = {id(n) for n in ast.walk(node)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in table}


def test_every_declared_variable_is_used_somewhere() -> None:
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in text_files(*SCANNED) if p != SETTINGS_PY)
    tests = "\n".join(p.read_text(encoding="utf-8") for p in text_files("tests") if p.suffix == ".py")
    own = settings_own_strings()
    unused = []
    for v in VARIABLES:
        if v.name.endswith("<SERVICE>"):
            pattern = re.escape(v.name.removesuffix("<SERVICE>"))
        else:
            pattern = rf"(?<![A-Za-z0-9_]){re.escape(v.name)}(?![A-Za-z0-9_])"
        where = corpus + (tests if v.read_by == "tests" else "")
        if not re.search(pattern, where) and v.name not in own:
            unused.append(v.name)
    assert unused == [], "declared but read nowhere: remove them from VARIABLES or use them"


def test_the_experiments_defaults_match_the_declared_ones() -> None:
    checked = 0
    for experiment in sorted((REPO / "chaos").glob("*.json")):
        configuration = json.loads(experiment.read_text(encoding="utf-8")).get("configuration") or {}
        for entry in configuration.values():
            if not (isinstance(entry, dict) and entry.get("type") == "env" and "default" in entry):
                continue
            variable = declared(entry["key"])
            if variable.default is not None:
                assert str(entry["default"]) == variable.default, f"{experiment.name}: {entry['key']}"
                checked += 1
    assert checked > 50


def test_every_default_reads_as_its_kind() -> None:
    env = Settings({})
    for v in VARIABLES:
        if v.default is None or v.name.endswith("<SERVICE>"):
            continue
        value = {"integer": env.integer, "number": env.number, "flag": env.flag, "path": env.path,
                 "list": env.names}.get(v.kind, env.text)(v.name)
        assert value is not None, v.name


# --- (c) docs/settings.md is generated from VARIABLES --------------------------------------------


def test_docs_settings_md_is_the_generated_table() -> None:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    assert text == document(), "regenerate it: make settings-doc"
    for v in VARIABLES:
        assert f"| `{v.name}` |" in text


def test_the_docs_link_to_the_table() -> None:
    for doc in ("README.md", "docs/gate.md", "docs/architecture.md"):
        assert "settings.md" in (REPO / doc).read_text(encoding="utf-8"), doc


# --- (d) typed reads ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "read", "message"),
    [
        ("AIDEON_LOAD_USERS", "many", "integer", "environment: AIDEON_LOAD_USERS: not an integer: 'many'"),
        ("AIDEON_TARGET_USERS", "1.5", "integer", "environment: AIDEON_TARGET_USERS: not an integer: '1.5'"),
        ("AIDEON_CHAOS_MAX_POD_SHARE", "half", "number",
         "environment: AIDEON_CHAOS_MAX_POD_SHARE: not a number: 'half'"),
        ("AIDEON_LOAD_EXTERNAL", "maybe", "flag",
         "environment: AIDEON_LOAD_EXTERNAL: not a flag (1/0, true/false, yes/no, on/off): 'maybe'"),
    ],
)
def test_a_malformed_value_is_a_usage_error_naming_the_variable(name: str, raw: str, read: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        getattr(Settings({name: raw}), read)(name)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_typed_values_defaults_and_blanks() -> None:
    env = Settings({"AIDEON_LOAD_USERS": " 1_000 ", "AIDEON_LOAD_SPAWN_RATE": "2.5", "AIDEON_SHAPE": "  ",
                    "AIDEON_CHAOS_ALLOWED_CONTEXTS": "a, b,,", "AIDEON_UNDO_DIR": "~/undo"})
    assert env.integer("AIDEON_LOAD_USERS") == 1000
    assert env.number("AIDEON_LOAD_SPAWN_RATE") == 2.5
    assert env.text("AIDEON_SHAPE") == "none"  # blank counts as unset: the default
    assert env.int_value("AIDEON_LOAD_MAX_SECONDS") == 600
    assert env.allowed_contexts == ["a", "b"]
    assert env.path("AIDEON_UNDO_DIR") == Path.home() / "undo"
    assert env.integer("AIDEON_TARGET_USERS") is None
    with pytest.raises(KeyError, match="AIDEON_TARGET_USERS is declared without a default"):
        env.int_value("AIDEON_TARGET_USERS")


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                            ("0", False), ("false", False), ("No", False), ("off", False),
                                            ("", False), (None, False)])
def test_flags(raw: str | None, value: bool) -> None:
    assert Settings({} if raw is None else {"AIDEON_LOAD_EXTERNAL": raw}).flag("AIDEON_LOAD_EXTERNAL") is value


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("woodpecker", True),
                                            ("false", False), ("0", False), (None, False)])
def test_ci_is_any_value_but_a_false_one(raw: str | None, value: bool) -> None:
    assert Settings({} if raw is None else {"CI": raw}).in_ci is value


def test_an_undeclared_name_is_a_programming_error() -> None:
    env = Settings({"AIDEON_NOT_DECLARED": "1"})
    for read in (env.raw, env.text, env.integer, env.number, env.flag, env.path):
        with pytest.raises(KeyError, match="AIDEON_NOT_DECLARED is not declared"):
            read("AIDEON_NOT_DECLARED")
    with pytest.raises(KeyError, match="AIDEON_NOT_DECLARED is not declared"):
        env.child_environment({"AIDEON_NOT_DECLARED": "1"})
    with pytest.raises(KeyError, match="AIDEON_NOT_DECLARED is not declared"):
        export("AIDEON_NOT_DECLARED", "1")
    assert declared("AIDEON_UPSTREAM_VECTOR_DB").name == "AIDEON_UPSTREAM_<SERVICE>"


def test_kubeconfig_is_its_first_file_else_the_default() -> None:
    assert Settings({"KUBECONFIG": f"/a/one{os.pathsep}/b/two"}).kubeconfig == Path("/a/one")
    assert Settings({"KUBECONFIG": f"{os.pathsep}/b/two"}).kubeconfig is None
    assert Settings({}).kubeconfig is None
    assert Settings({}).kubeconfig_file == Path.home() / ".kube" / "config"
    assert Settings({"KUBECONFIG": "~/k.yaml"}).kubeconfig_file == Path.home() / "k.yaml"


def test_child_environment_and_export(monkeypatch: pytest.MonkeyPatch) -> None:
    source = {"PATH": "/bin", "AIDEON_ENV": "local"}
    child = Settings(source).child_environment({"AIDEON_ENV": "staging", "KWOK_WORKDIR": "/w"})
    assert child == {"PATH": "/bin", "AIDEON_ENV": "staging", "KWOK_WORKDIR": "/w"}
    assert source == {"PATH": "/bin", "AIDEON_ENV": "local"}
    monkeypatch.delenv("AIDEON_WINDOWS_FILE", raising=False)
    export("AIDEON_WINDOWS_FILE", "/tmp/w.jsonl")
    assert settings_module.settings().text("AIDEON_WINDOWS_FILE") == "/tmp/w.jsonl"
    assert settings_module.settings().child_environment()["AIDEON_WINDOWS_FILE"] == "/tmp/w.jsonl"
    export("AIDEON_WINDOWS_FILE", None)
    assert settings_module.settings().text("AIDEON_WINDOWS_FILE") is None


def test_upstreams_are_the_set_upstream_variables() -> None:
    env = Settings({"AIDEON_UPSTREAM_VECTOR_DB": "http://127.0.0.1:1", "AIDEON_UPSTREAM_AUTH": " ", "OTHER": "x"})
    assert env.upstreams() == {"AIDEON_UPSTREAM_VECTOR_DB": "http://127.0.0.1:1"}


# --- callers keep their own error types and messages ----------------------------------------------


def test_a_malformed_share_is_a_safety_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    from aideon_resilience.chaos import guard

    monkeypatch.setenv("AIDEON_CHAOS_MAX_POD_SHARE", "half")
    with pytest.raises(SafetyRefusal, match=r"^environment: AIDEON_CHAOS_MAX_POD_SHARE: not a number: 'half'$"):
        guard.max_pod_share()
    monkeypatch.setenv("AIDEON_CHAOS_MAX_POD_SHARE", "2")
    with pytest.raises(SafetyRefusal, match=r"^environment: AIDEON_CHAOS_MAX_POD_SHARE: must be in \(0, 1\], got 2$"):
        guard.max_pod_share()
    monkeypatch.delenv("AIDEON_CHAOS_MAX_POD_SHARE")
    monkeypatch.setenv("AIDEON_CHAOS_MAX_NODE_SHARE", "0.2")
    assert (guard.max_pod_share(), guard.max_node_share()) == (0.5, 0.2)


def test_a_malformed_load_cap_fails_the_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    from aideon_resilience.chaos.actions import load

    monkeypatch.setenv("AIDEON_CHAOS_MAX_USERS", "lots")
    with pytest.raises(ActivityFailed, match=r"^environment: AIDEON_CHAOS_MAX_USERS: not an integer: 'lots'$"):
        load.start_load("http://127.0.0.1:9", users=1)


def test_a_malformed_load_flag_interrupts_the_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aideon_resilience.chaos.controls import load

    monkeypatch.setenv("AIDEON_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AIDEON_LOAD_EXTERNAL", "maybe")
    with pytest.raises(InterruptExecution, match="AIDEON_LOAD_EXTERNAL: not a flag"):
        load.before_experiment_control(context={})
