"""A training run ends with a summary that says what was made and what to run next; the
history's learning rate is the schedule's own; a run too short to fine-tune says so."""

from __future__ import annotations

import csv
import json
import logging

import pytest

from conftest import requires_tf
from edgefer.training import preset
from edgefer.training.recipe import scheduled_lr, summary_lines
from edgefer.training.rundir import read_history


def _history_lrs_follow_the_schedule(run_dir) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    cfg = preset("tiny", **{k: v for k, v in config.items() if k != "augment"})
    steps = max(1, metrics["training"]["train_faces"] // cfg.batch_size)
    history = read_history(run_dir / "history.csv")
    for row in history:
        epoch = int(row["epoch"])
        assert row["head_only"] == float(epoch <= cfg.warmup_epochs)
        assert row["lr"] == pytest.approx(scheduled_lr(cfg, epoch * steps - 1, steps), rel=1e-6)
    with open(run_dir / "history.csv", newline="") as fh:
        assert next(csv.reader(fh))[:3] == ["epoch", "head_only", "lr"]


def _summary(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


@requires_tf
def test_keras_history_lr_is_the_schedule_that_ran(tiny_run):
    _history_lrs_follow_the_schedule(tiny_run)
    # The tiny preset validates with re-estimated BatchNorm statistics: its epoch lines
    # are not pinned at chance (1/7) by lagging running statistics.
    assert read_history(tiny_run / "history.csv")[-1]["val_accuracy"] > 2 / 7


@requires_tf
def test_keras_run_that_never_fine_tunes_warns_and_summarises(synthetic_csv, tmp_path, caplog):
    from edgefer.training import train

    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    train(preset("tiny", data=str(synthetic_csv), out=str(out), epochs=1, warmup_epochs=1, max_train_samples=64,
                 bn_recalibration_batches=2, verbose=0))
    text = _summary(caplog)
    assert "--epochs 1 <= warmup_epochs 1" in text and "never fine-tuned" in text
    assert "training finished: keras engine, lite0 at 48 px, weights none" in text
    assert "epochs: 1 of 1 run, 1 head-only, 0 fine-tuning" in text
    assert "warning: no fine-tuning epoch ran" in text
    assert "kept: " in text and "val top-1 " in text
    assert f"next: edgefer export {out} --int8 --data {synthetic_csv}" in text
    _history_lrs_follow_the_schedule(out)


def test_torch_run_summarises_with_the_same_lines(synthetic_csv, tmp_path, caplog):
    pytest.importorskip("timm")
    from edgefer.training import train

    caplog.set_level(logging.INFO)
    out = tmp_path / "run"
    config = preset("tiny", data=str(synthetic_csv), out=str(out), engine="torch", device="cpu", epochs=2,
                    warmup_epochs=1, max_train_samples=64, bn_recalibration_batches=2)
    result = train(config)
    text = _summary(caplog)
    assert "never fine-tuned" not in text
    assert "\n".join(summary_lines(config, out, result.metrics, result.history)) in text
    assert "training finished: torch engine" in text and "epochs: 2 of 2 run, 1 head-only, 1 fine-tuning" in text
    assert f"kept: {result.metrics['final_model']['choice']}: val top-1 {result.metrics['top1']:.4f}" in text
    _history_lrs_follow_the_schedule(out)


def test_schedule_is_one_function_of_the_config():
    config = preset("cpu", epochs=3, warmup_epochs=1)
    assert scheduled_lr(config, 0, 10) == config.warmup_lr  # head-only epochs: the warm-up rate
    assert scheduled_lr(config, 10, 10) == pytest.approx(config.lr / 10)  # the fine-tune warms up to lr
    assert max(scheduled_lr(config, s, 10) for s in range(10, 30)) == pytest.approx(config.lr)


@requires_tf
def test_keras_schedule_is_the_shared_schedule():
    from edgefer.training.trainer import _main_schedule

    config = preset("cpu", epochs=5, warmup_epochs=2)
    steps = 10
    keras_schedule = _main_schedule(config, steps)
    for step in (0, 3, 9, 10, 17, 29):
        assert float(keras_schedule(step)) == pytest.approx(scheduled_lr(config, 2 * steps + step, steps), rel=1e-5)
