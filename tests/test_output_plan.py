"""The library under the fault table: the output plan, all-or-nothing writes, the strict
number parser, bounded JSON/YAML, declared ranges and model-metadata values."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from edgefer import fileio
from edgefer.configtypes import MAX_NESTING, check_ranges, load_structured, parse_number
from edgefer.errors import ConfigError, DataError, ModelError
from edgefer.metadata import ModelInfo
from edgefer.outputs import PACKAGE_DIR, Input, Output, plan_outputs
from edgefer.training.rundir import read_history, run_input


# --- all or nothing -------------------------------------------------------------------------

def test_a_failed_command_removes_new_files_and_folders_and_restores_replaced_ones(tmp_path):
    (tmp_path / "old.json").write_text("mine")
    with pytest.raises(RuntimeError):
        with fileio.all_or_nothing():
            fileio.write_text(tmp_path / "old.json", "replaced")
            fileio.write_text(tmp_path / "old.json", "replaced again")  # one backup: the user's file
            fileio.write_text(tmp_path / "new" / "deeper" / "a.txt", "new")
            raise RuntimeError("a later step fails")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]
    assert (tmp_path / "old.json").read_text() == "mine"


def test_a_verdict_and_a_resumable_folder_keep_what_was_written(tmp_path):
    class Verdict(Exception):
        pass

    with pytest.raises(Verdict):
        with fileio.all_or_nothing(keep=(Verdict,)):
            fileio.write_text(tmp_path / "report.json", "{}")
            raise Verdict
    with pytest.raises(KeyboardInterrupt):
        with fileio.all_or_nothing():
            fileio.write_text(tmp_path / "run" / "checkpoint", "epoch 1")
            fileio.write_text(tmp_path / "other.txt", "x")
            fileio.keep_written(tmp_path / "run")
            raise KeyboardInterrupt
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["report.json", "run",
                                                                                 "run/checkpoint"]


def test_a_removed_file_comes_back_when_the_command_fails(tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"earlier export")
    with pytest.raises(RuntimeError):
        with fileio.all_or_nothing():
            fileio.remove_file(tmp_path / "model.tflite")
            raise RuntimeError
    assert (tmp_path / "model.tflite").read_bytes() == b"earlier export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_a_written_file_that_fails_its_check_is_not_renamed(tmp_path):
    def truncated(path: Path) -> None:
        raise ConfigError("cut short")

    with pytest.raises(ConfigError, match="cut short"):
        with fileio.atomic_path(tmp_path / "a.png", check=truncated) as tmp:
            tmp.write_bytes(b"\x89PNG")
    with pytest.raises(ConfigError, match="empty"):
        with fileio.atomic_path(tmp_path / "b.json"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_name_near_the_limit_is_written(tmp_path):
    name = "n" * (fileio.NAME_MAX - 5) + ".json"
    fileio.write_json(tmp_path / name, {"ok": True})
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_scores_are_written_with_six_decimals():
    text = fileio.strict_json({"top1": 0.8906249999999999, "lr": 1.2345678e-7, "n": 3, "bad": math.nan})
    assert json.loads(text) == {"top1": 0.890625, "lr": 1.23457e-7, "n": 3, "bad": None}


# --- the output plan -------------------------------------------------------------------------

def test_the_plan_refuses_the_package_a_device_and_a_file_inside_an_output_folder(tmp_path):
    with pytest.raises(ConfigError, match="installed edgefer package"):
        plan_outputs([Output("--json", PACKAGE_DIR / "models" / "x.json")])
    with pytest.raises(ConfigError, match="regular file"):
        plan_outputs([Output("--json", os.devnull)])
    with pytest.raises(ConfigError, match="inside the --annotate folder"):
        plan_outputs([Output("--annotate", tmp_path / "ann", folder=True),
                      Output("--json", tmp_path / "ann" / "a.json")])
    with pytest.raises(ConfigError, match="empty"):
        plan_outputs([Output("--out", "", folder=True)])


def test_the_plan_protects_the_files_a_run_folder_is_read_by(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "model_info.json", "config.json", "metrics.json"):
        (run / name).write_text("x")
    for model in (run, run / "model.keras"):
        for name in ("model_info.json", "config.json", "metrics.json"):
            with pytest.raises(ConfigError, match="overwrite the input"):
                plan_outputs([Output("--json", run / name)], [run_input("MODEL", model)])
    plan_outputs([Output("--json", run / "eval.json")], [run_input("MODEL", run)])  # a new file beside them is fine
    plan_outputs([Output("--json", tmp_path / "e.json")], [Input("MODEL", None), run_input("MODEL", None)])


# --- strict inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["\u00b2", "\u0661", "1" * 5000, "", "-", "1.5", "0x10", " "])
def test_an_integer_from_a_file_is_ascii_digits(text):
    with pytest.raises(DataError, match="f.csv: line 3"):
        parse_number(text, "f.csv: line 3", int)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "1.2.3", "1e", "\u00b2"])
def test_a_float_from_a_file_is_finite(text):
    with pytest.raises(DataError):
        parse_number(text, "history.csv: line 2: lr", float)


def test_numbers_in_range_parse_and_out_of_range_name_the_range():
    assert parse_number(" 6 ", "x", int, 0, 6) == 6 and parse_number("-2.5e-3", "x", float) == -0.0025
    with pytest.raises(DataError, match=r"must be in \[0, 6\]"):
        parse_number("7", "x", int, 0, 6)


def test_garbage_history_is_one_data_error(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,lr\n1,\u00b2\n")
    with pytest.raises(DataError, match="history.csv: line 2: lr"):
        read_history(tmp_path / "history.csv")
    (tmp_path / "history.csv").write_bytes(b"epoch\n\xff\xfe\n")
    with pytest.raises(DataError, match="not a history file"):
        read_history(tmp_path / "history.csv")


@pytest.mark.parametrize("text,yaml", [
    ("[" * 100_000, False), ("[" * 40 + "]" * 40, False),  # past Python's recursion limit; past the bound
    ("a: " + "[" * 600 + "]" * 600, True), ("a: " + "[" * 40 + "]" * 40, True), ("{}", False),
])
def test_nesting_is_bounded(text, yaml):
    if text == "{}":
        assert load_structured(text, "c.json") == {}
        return
    with pytest.raises(ConfigError, match=f"nested more than {MAX_NESTING}"):
        load_structured(text, "c.yaml" if yaml else "c.json", yaml=yaml)


def test_declared_ranges_name_the_range_and_refuse_nan():
    class Config:
        rate, lr, seed = 5.0, math.inf, -1

    with pytest.raises(ConfigError, match=r"rate must be in \[0, 1\), got 5.0"):
        check_ranges(Config, {"rate": "[0, 1)"})
    with pytest.raises(ConfigError, match=r"lr must be in \(0, 10\]"):
        check_ranges(Config, {"lr": "(0, 10]"})
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        check_ranges(Config, {"seed": "[0, inf)"})


@pytest.mark.parametrize("record,message", [
    ({"temperature": math.nan}, "temperature"),
    ({"temperature": math.inf}, "temperature"),
    ({"preprocess": {"mean": math.nan}}, "preprocess.mean"),
    ({"preprocess": {"std": math.inf}}, "preprocess.std"),
    ({"labels": [0, 1, 2, 3, 4, 5, 6]}, "labels"),
    ({"labels": "angry"}, "labels"),
    ({"preprocess": {"input_size": "48"}}, "input_size"),
    ({"format_version": "1"}, "format_version"),
])
def test_model_metadata_values_are_checked_when_a_model_loads(record, message):
    with pytest.raises(ModelError, match=message):
        ModelInfo.from_dict(record)
