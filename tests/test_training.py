"""End-to-end training on synthetic faces: run directory, evaluate, resume, kill -9, distribution."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_tf

from edgefer.cli import main

pytestmark = requires_tf
REPO = Path(__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def test_run_directory_has_everything(tiny_run):
    for name in ("config.json", "model_info.json", "model.keras", "best_weights.h5", "history.csv",
                 "curves.png", "metrics.json", "metrics.confusion.png", "metrics.reliability.png"):
        assert (tiny_run / name).is_file(), name
    assert list((tiny_run / "checkpoints").glob("ckpt-4*"))
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("n", "top1", "top3", "macro_f1", "macro_precision", "macro_recall", "mcc", "log_loss",
                "roc_auc", "per_class_recall"):
        assert key in metrics
    assert metrics["training"]["epochs_run"] == 4
    # The synthetic classes are easy: a model that learned nothing would sit near 1/7.
    assert metrics["top1"] > 0.5


def test_evaluate_cli_writes_the_report(tiny_run, synthetic_csv, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(tiny_run), "--data", str(synthetic_csv), "--split", "PublicTest",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 84 and report["split"] == "PublicTest"
    assert (tmp_path / "eval.confusion.png").is_file() and (tmp_path / "eval.reliability.png").is_file()
    train_metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert report["top1"] == pytest.approx(train_metrics["top1"])


def test_existing_run_dir_is_refused(tiny_run, synthetic_csv, capsys):
    code = main(["train", "--data", str(synthetic_csv), "--out", str(tiny_run), "--preset", "tiny"])
    assert code == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resume_continues_from_the_last_checkpoint(synthetic_csv, tmp_path):
    from edgefer.training import preset, resume, train

    out = tmp_path / "run"
    train(preset("tiny", data=str(synthetic_csv), out=str(out), epochs=1, verbose=0))
    result = resume(out, epochs=3)
    assert [int(h["epoch"]) for h in result.history] == [1, 2, 3]
    assert json.loads((out / "config.json").read_text())["epochs"] == 3  # the run dir says what ran


def test_resume_of_a_finished_run_replaces_its_final_model_only_with_a_better_one(tiny_run, synthetic_csv, tmp_path):
    import shutil

    from edgefer.training import preset, resume, train
    from edgefer.training.rundir import KEPT_FINAL_MODEL

    weak = tmp_path / "weak"  # one epoch at a vanishing learning rate: next to nothing learned
    train(preset("tiny", data=str(synthetic_csv), out=str(weak), epochs=1, lr=1e-9, max_train_samples=64, verbose=0))
    weak_model = (weak / "model.keras").read_bytes()
    weak_top1 = json.loads((weak / "metrics.json").read_text())["top1"]
    strong_top1 = json.loads((tiny_run / "metrics.json").read_text())["top1"]
    assert strong_top1 > weak_top1 + 0.2
    strong_model = (tiny_run / "model.keras").read_bytes()
    (weak / "model.keras").write_bytes(strong_model)
    kept = resume(weak)
    assert kept.metrics["final_model"]["choice"] == KEPT_FINAL_MODEL
    assert (weak / "model.keras").read_bytes() == strong_model
    assert kept.metrics["top1"] == pytest.approx(strong_top1)
    strong = tmp_path / "strong"
    shutil.copytree(tiny_run, strong)
    (strong / "model.keras").write_bytes(weak_model)
    replaced = resume(strong)
    assert replaced.metrics["final_model"]["choice"] != KEPT_FINAL_MODEL
    assert replaced.metrics["top1"] > weak_top1 + 0.2


def test_fine_tune_from_a_weights_file_with_weight_averaging(tiny_run, synthetic_csv, tmp_path):
    from edgefer.training import preset, train
    from edgefer.training.keras_env import keras

    weights = tmp_path / "start.h5"
    keras.models.load_model(tiny_run / "model.keras", compile=False).save_weights(str(weights))
    result = train(preset("tiny", data=str(synthetic_csv), out=str(tmp_path / "ft"), weights=str(weights),
                          epochs=1, lr=1e-5, ema_decay=0.9, verbose=0))
    # One epoch at a tiny learning rate keeps what the start weights learned.
    assert result.history[0]["val_accuracy"] > 0.5
    candidates = result.metrics["final_model"]["candidates"]
    assert any(name.startswith("last (EMA)") for name in candidates)


def test_weight_averaging_only_in_the_fine_tune():
    from edgefer.errors import ConfigError
    from edgefer.training import TrainConfig
    from edgefer.training.trainer import _optimizer

    config = TrainConfig(data="x.csv", ema_decay=0.999)
    assert _optimizer(config, 1e-3, ema=True).use_ema
    assert not _optimizer(config, 1e-3).use_ema
    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(data="x.csv", ema_decay=1.0).validate()


def test_kill_9_loses_at_most_the_epoch_in_progress(synthetic_csv, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "edgefer", "train", "--data", str(synthetic_csv), "--out", str(out),
           "--preset", "tiny", "--epochs", "30", "--patience", "0"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not list((out / "checkpoints").glob("ckpt-2.index")) and time.monotonic() < deadline:
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    saved = max(int(p.name.split("-")[1].split(".")[0]) for p in (out / "checkpoints").glob("ckpt-*.index"))
    assert saved >= 2
    result = subprocess.run(cmd[:4] + ["--resume", str(out), "--epochs", str(saved + 1)],
                            env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming {out} after epoch {saved}" in result.stderr
    epochs = [int(float(line.split(",")[0])) for line in (out / "history.csv").read_text().splitlines()[1:]]
    assert epochs == list(range(1, saved + 2))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_finish_in_step_with_identical_weights(synthetic_csv, tmp_path):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    out = tmp_path / "dist"
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        cmd = [sys.executable, "-m", "edgefer", "train", "--data", str(synthetic_csv), "--out", str(out),
               "--preset", "tiny", "--epochs", "1", "--distribute", "multi-worker"]
        procs.append(subprocess.Popen(cmd, env=_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    import h5py

    def weights(path):
        with h5py.File(path) as f:
            out = []
            f.visititems(lambda name, obj: out.append((name, obj[()])) if isinstance(obj, h5py.Dataset) else None)
            return out

    chief, worker = weights(out / "best_weights.h5"), weights(out / "worker-1" / "best_weights.h5")
    assert [n for n, _ in chief] == [n for n, _ in worker] and len(chief) > 100
    for (_, a), (_, b) in zip(chief, worker):
        np.testing.assert_array_equal(a, b)
    history = [(out / "history.csv").read_text(), (out / "worker-1" / "history.csv").read_text()]
    assert history[0].splitlines()[1].split(",")[:7] == history[1].splitlines()[1].split(",")[:7]


def test_batchnorm_recalibration_replaces_stale_statistics():
    from edgefer.training.batchnorm import recalibrate_batchnorm
    from edgefer.training.keras_env import keras

    inputs = keras.Input((4,))
    bn = keras.layers.BatchNormalization()
    model = keras.Model(inputs, bn(inputs))
    bn.moving_mean.assign([100.0] * 4)  # as stale as statistics get
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (64, 4)).astype(np.float32) for _ in range(8)]
    assert recalibrate_batchnorm(model, batches) == 8
    stacked = np.concatenate(batches)
    np.testing.assert_allclose(bn.moving_mean.numpy(), stacked.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([b.var(axis=0) for b in batches], axis=0),
                               rtol=1e-3)
    assert bn.momentum == 0.99  # restored for later training


@pytest.mark.parametrize("family", ["lite0", "b0", "v2-b0"])
def test_models_are_flat_with_logits_and_softmax(family):
    from edgefer.training.keras_env import keras
    from edgefer.training.keras_models import build_model, logits_model

    model = build_model(family, 48, "none")
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    assert model.output_shape == (None, 7) and model.input_shape == (None, 48, 48, 3)
    x = np.random.default_rng(0).normal(size=(2, 48, 48, 3)).astype(np.float32)
    logits = logits_model(model)(x).numpy()
    probs = model(x).numpy()
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5)


def test_imagenet_weights_offline_give_a_clear_error(monkeypatch):
    from edgefer.errors import ModelError
    from edgefer.training.keras_env import keras
    from edgefer.training.keras_models import build_model

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("tf_keras.src.applications.efficientnet.data_utils.get_file", no_network, raising=False)
    with pytest.raises(ModelError, match="no internet access"):
        build_model("b0", 48, "imagenet")


def test_cli_lists_every_command_and_shows_defaults(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("train", "evaluate", "parity"):
        assert command in text
    for command in ("train", "evaluate", "export", "parity", "predict", "bench", "demo"):
        assert main([command, "--help"]) == 0
        assert "[default:" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0
    assert "runs/train" in capsys.readouterr().out
