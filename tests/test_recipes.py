"""The recipe files under recipes/ are valid `--config` inputs, and the CPU chain warm-starts as documented."""

import json
from pathlib import Path

import pytest

from edgefer.training.config import TrainConfig

RECIPES = sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*/*.json"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_files_are_valid_train_configs(path):
    config = TrainConfig.from_dict(json.loads(path.read_text()))
    config.data = "fer.facepack"  # recipes leave the data to the command line
    config.validate()
    assert config.engine == "torch"


def test_cpu_chain_fine_tunes_the_48_px_run_at_64_px_on_the_cpu():
    first, second = (TrainConfig.from_dict(json.loads((RECIPES[0].parent.parent / "cpu" / f"{name}.json").read_text()))
                     for name in ("student-lite0-48", "student-lite0-64-from-48"))
    assert (first.input_size, second.input_size) == (48, 64)
    assert first.weights == "lite0-imagenet" and second.weights == "runs/cpu/student-lite0-48"
    assert first.device == second.device == "cpu" and second.lr < first.lr
    assert first.augment == second.augment and first.augment.jpeg > 0
