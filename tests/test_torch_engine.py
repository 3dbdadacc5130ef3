"""The PyTorch engine: timm twins of every family, the run directory, the road into Keras/TFLite."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import requires_tf

from edgefer.families import FAMILIES

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

# Seconds to build both twins on two cores: the big ones still run, marked slow.
_SLOW = {"b5", "b6", "b7", "lite4", "v2-b3"}


def _randomised(model):
    """Non-trivial BatchNorm statistics, so a mis-mapped tensor shows in the logits."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                # Small perturbations: deep residual stacks (V2) amplify larger ones into huge logits.
                m.running_mean.copy_((torch.rand(m.running_mean.shape, generator=gen) - 0.5) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 0.2 + 0.9)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.2 + 0.9)
                m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.2)
    return model.eval()


@requires_tf
@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.slow) if f in _SLOW else f for f in FAMILIES])
def test_keras_twin_computes_the_same_logits(family):
    from edgefer.training.keras_models import build_model as keras_model
    from edgefer.training.keras_models import logits_model
    from edgefer.training.torch_engine.nets import build_model, state_arrays
    from edgefer.training.transfer import load_torch_state

    torch.manual_seed(0)
    net = _randomised(build_model(family))
    size = 64
    twin = keras_model(family, size, "none")
    load_torch_state(twin, state_arrays(net))
    spec = FAMILIES[family].preprocess_spec(size)
    x = spec.normalize(np.random.default_rng(1).uniform(0, 255, (2, size, size, 3))).astype(np.float32)
    keras_logits = logits_model(twin)(x, training=False).numpy()
    with torch.no_grad():
        torch_logits = net(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    scale = max(1.0, float(np.abs(torch_logits).max()))  # float32 sums: the error grows with the logits
    assert np.abs(keras_logits - torch_logits).max() <= 1e-4 * scale
    assert np.abs(torch_logits).max() > 1e-3  # not a degenerate all-zero model


@requires_tf
def test_transfer_refuses_another_family():
    from edgefer.errors import ModelError
    from edgefer.training.keras_models import build_model as keras_model
    from edgefer.training.torch_engine.nets import build_model, state_arrays
    from edgefer.training.transfer import load_torch_state

    with pytest.raises(ModelError, match="torch modules|does not fit"):
        load_torch_state(keras_model("lite0", 48, "none"), state_arrays(build_model("b0")))


def test_lite_imagenet_weights_load_onto_timm():
    from edgefer.training.torch_engine.nets import build_model

    net = build_model("lite0", "lite0-imagenet")
    # The stem of the official weights, not timm's random initialisation.
    assert float(net.backbone.conv_stem.weight.detach().abs().mean()) > 0.05
    assert torch.isfinite(net(torch.zeros(1, 3, 64, 64))).all()


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory, synthetic_csv):
    from edgefer.training import AugmentConfig, preset, train

    out = tmp_path_factory.mktemp("torch") / "run"
    # Every augmentation on, so each one runs; flips only for geometry (as the Keras tiny run).
    aug = AugmentConfig(rotation_deg=0, zoom=0, shift=0, brightness=0, contrast=0, erasing=0.1, mixup=0.1,
                        blur=0.1, noise=0.1, jpeg=0.1, downscale=0.1, gamma=0.1)
    train(preset("tiny", engine="torch", data=str(synthetic_csv), out=str(out), epochs=4, augment=aug,
                 ema_decay=0.9, verbose=0))
    return out


def test_torch_run_directory_is_a_first_class_run(torch_run):
    from edgefer.training.rundir import load_run

    names = {p.name for p in torch_run.iterdir()}
    assert {"config.json", "model_info.json", "history.csv", "curves.png", "metrics.json",
            "model.safetensors", "checkpoints"} <= names
    metrics = json.loads((torch_run / "metrics.json").read_text())
    assert {"top1", "top3", "mcc", "macro_f1", "log_loss", "ece", "confusion_matrix", "final_model",
            "training"} <= set(metrics)
    assert metrics["training"]["engine"] == "torch" and metrics["training"]["epochs_run"] == 4
    run = load_run(torch_run)
    assert run.engine == "torch" and run.config.engine == "torch"
    # Learnt something: the synthetic classes are easy.
    assert metrics["top1"] > 0.5


def test_torch_engine_never_imports_tensorflow(synthetic_csv, tmp_path):
    code = (
        "import sys\n"
        "from edgefer.training import preset, train\n"
        f"train(preset('tiny', engine='torch', data={str(synthetic_csv)!r}, out={str(tmp_path / 'r')!r}, "
        "epochs=1, max_train_samples=64))\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)


@requires_tf
def test_torch_run_enters_the_int8_chain_without_torch(torch_run, synthetic_csv, tmp_path):
    """Export reads the torch run through its Keras twin; float32 TFLite top-1 matches the torch one."""
    code = (
        "import json, sys\n"
        "sys.modules['torch'] = None  # any torch import now fails\n"
        "from edgefer.export import ExportConfig, export\n"
        "from edgefer.evaluate import EvaluateConfig, evaluate\n"
        f"r = export(ExportConfig(model={str(torch_run)!r}, data={str(synthetic_csv)!r}, out={str(tmp_path)!r}, "
        "formats=('int8', 'float32'), qat=False, calibration_size=70, parity_gate=False))\n"
        f"e = evaluate(EvaluateConfig(model={str(tmp_path / 'model_float32.tflite')!r}, data={str(synthetic_csv)!r}, "
        "split='PublicTest'))\n"
        "print(json.dumps({'top1': e['top1'], 'int8': r['formats']['int8']['audit']['full_integer']}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    metrics = json.loads((torch_run / "metrics.json").read_text())
    assert result["int8"] is True
    assert abs(result["top1"] - metrics["top1"]) <= 0.01


@requires_tf
def test_keras_engine_warm_starts_from_a_torch_run(torch_run):
    from edgefer.predictors import load_predictor
    from edgefer.training.keras_models import build_model, logits_model

    model = build_model("lite0", 48, str(torch_run))
    x = np.random.default_rng(0).normal(size=(3, 48, 48, 3)).astype(np.float32)
    expected = load_predictor(torch_run).raw(x)
    np.testing.assert_allclose(logits_model(model)(x, training=False).numpy(), expected, atol=1e-4)


def test_distilled_student_follows_its_teacher(torch_run, synthetic_csv, tmp_path):
    """On scrambled training labels, a student distilled at weight 1 still learns its teacher."""
    import csv as csvlib

    from edgefer.data import load_split
    from edgefer.metadata import ModelInfo
    from edgefer.inference import logits
    from edgefer.training import AugmentConfig, preset, train
    from edgefer.training.torch_engine.nets import build_model, load_weights
    from edgefer.training.torch_engine.predictor import TorchPredictor

    rows = list(csvlib.reader(open(synthetic_csv, newline="")))
    rng = np.random.default_rng(0)
    scrambled = tmp_path / "scrambled.csv"
    with open(scrambled, "w", newline="") as fh:
        # Training labels only: validation (which picks the final model) keeps the true ones.
        csvlib.writer(fh).writerows([rows[0]] + [[str(rng.integers(0, 7)) if row[2] == "Training" else row[0],
                                                  *row[1:]] for row in rows[1:]])
    flips = AugmentConfig(rotation_deg=0, zoom=0, shift=0, brightness=0, contrast=0)
    faces = load_split(synthetic_csv, "PublicTest").images
    info = ModelInfo.from_dict(json.loads((torch_run / "model_info.json").read_text()))

    def top1(run_dir):
        net = build_model("lite0")
        load_weights(net, run_dir / "model.safetensors")
        return np.argmax(logits(TorchPredictor(net, info, "m", torch.device("cpu")), faces), axis=1)

    teacher = top1(torch_run)
    agreement = {}
    for weight in (0.0, 1.0):
        run = train(preset("tiny", engine="torch", data=str(scrambled), out=str(tmp_path / f"s{weight}"),
                           epochs=4, augment=flips, class_weights="none", teachers=(str(torch_run),) if weight else (),
                           distill_weight=weight, distill_temperature=1.0, verbose=0))
        agreement[weight] = float(np.mean(top1(run.run_dir) == teacher))
    assert agreement[1.0] >= 0.45 and agreement[1.0] > agreement[0.0] + 0.2, agreement


def test_bad_inputs_are_one_line_errors(torch_run, synthetic_csv, tmp_path):
    from edgefer.errors import ConfigError, ModelError
    from edgefer.training import preset, train
    from edgefer.training.tensorfile import load_model_weights, save

    save(tmp_path / "other.safetensors", {"w": np.zeros(3, np.float32)})
    with pytest.raises(ModelError, match="not edgefer model weights"):
        load_model_weights(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(ModelError, match="not a safetensors"):
        load_model_weights(tmp_path / "junk.safetensors")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            train(preset("tiny", engine="torch", device="cuda", data=str(synthetic_csv), out=str(tmp_path / "c")))
        assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError, match="needs --engine torch"):
        train(preset("tiny", data=str(synthetic_csv), out=str(tmp_path / "k"), teachers=(str(torch_run),)))


def test_safetensors_files_are_readable_by_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from edgefer.training.tensorfile import load, save

    tensors = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(4, np.float16)}
    save(tmp_path / "t.safetensors", tensors, {"k": "v"})
    theirs = safetensors_numpy.load_file(str(tmp_path / "t.safetensors"))
    ours, meta = load(tmp_path / "t.safetensors")
    assert list(ours) == ["b", "a"] and meta == {"k": "v"}  # order kept: the transfer relies on it
    for name, value in tensors.items():
        np.testing.assert_array_equal(theirs[name], value)
        np.testing.assert_array_equal(ours[name], value)


def test_a_run_config_is_a_recipe_for_the_next_run(torch_run, tmp_path):
    from edgefer.cli import main

    out = tmp_path / "again"
    code = main(["train", "--config", str(torch_run / "config.json"), "--out", str(out), "--epochs", "1",
                 "--max-train-samples", "64", "--augment", "erasing=0.5"])
    assert code == 0
    first = json.loads((torch_run / "config.json").read_text())
    second = json.loads((out / "config.json").read_text())
    changed = {k for k in first if first[k] != second[k]}
    assert changed == {"out", "epochs", "max_train_samples", "augment"}
    assert second["augment"]["erasing"] == 0.5 and second["engine"] == "torch"


def test_a_bad_config_file_is_one_line(tmp_path, capsys):
    from edgefer.cli import main

    (tmp_path / "c.json").write_text('{"family": "lite0", "learning_rate": 1}')
    assert main(["train", "--config", str(tmp_path / "c.json"), "--data", "x.csv"]) == 2
    assert "unknown training option(s): learning_rate" in capsys.readouterr().err


@pytest.mark.slow
def test_two_ddp_workers_finish_with_identical_weights(synthetic_csv, tmp_path):
    """Two gloo workers on localhost, as torchrun starts them; the ranks must agree exactly."""
    from edgefer.training.tensorfile import load_model_weights

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "edgefer", "train", "--engine", "torch", "--distribute", "ddp", "--preset", "tiny",
           "--data", str(synthetic_csv), "--out", str(out), "--epochs", "2", "--max-train-samples", "128"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    chief = load_model_weights(out / "model.safetensors")
    worker = load_model_weights(out / "worker-1" / "model.safetensors")
    assert list(chief) == list(worker)
    for name in chief:
        np.testing.assert_array_equal(chief[name], worker[name])
    assert json.loads((out / "metrics.json").read_text())["training"]["workers"] == 2


def test_resume_continues_after_the_last_checkpoint(synthetic_csv, tmp_path, caplog):
    import logging

    from edgefer.training import preset, resume, train

    out = tmp_path / "r"
    train(preset("tiny", engine="torch", data=str(synthetic_csv), out=str(out), epochs=2, max_train_samples=64))
    with caplog.at_level(logging.INFO):
        result = resume(out, epochs=3)
    assert f"resuming {out} after epoch 2" in caplog.text
    assert [int(h["epoch"]) for h in result.history] == [1, 2, 3]
    assert json.loads((out / "config.json").read_text())["epochs"] == 3


def test_resume_of_a_finished_run_replaces_its_final_model_only_with_a_better_one(torch_run, synthetic_csv, tmp_path):
    import shutil

    from edgefer.training import preset, resume, train
    from edgefer.training.rundir import KEPT_FINAL_MODEL

    # A run that learned next to nothing (one epoch at a vanishing learning rate) ...
    weak = tmp_path / "weak"
    train(preset("tiny", engine="torch", data=str(synthetic_csv), out=str(weak), epochs=1, lr=1e-9,
                 max_train_samples=64))
    weak_model = (weak / "model.safetensors").read_bytes()
    weak_top1 = json.loads((weak / "metrics.json").read_text())["top1"]
    strong_top1 = json.loads((torch_run / "metrics.json").read_text())["top1"]
    assert strong_top1 > weak_top1 + 0.2
    # ... holding a better final model than any it can make: a resume keeps that file as it is.
    strong_model = (torch_run / "model.safetensors").read_bytes()
    (weak / "model.safetensors").write_bytes(strong_model)
    kept = resume(weak)
    assert kept.metrics["final_model"]["choice"] == KEPT_FINAL_MODEL
    assert (weak / "model.safetensors").read_bytes() == strong_model
    assert kept.metrics["top1"] == pytest.approx(strong_top1)
    # A finished run whose final model is worse than its own candidates gets the better one.
    strong = tmp_path / "strong"
    shutil.copytree(torch_run, strong)
    (strong / "model.safetensors").write_bytes(weak_model)
    replaced = resume(strong)
    assert replaced.metrics["final_model"]["choice"] != KEPT_FINAL_MODEL
    assert (strong / "model.safetensors").read_bytes() != weak_model
    assert replaced.metrics["top1"] > weak_top1 + 0.2


def test_a_failed_resume_leaves_the_run_as_it_was(torch_run, tmp_path, capsys):
    import shutil

    from edgefer.cli import main

    run = tmp_path / "run"
    shutil.copytree(torch_run, run)
    config = json.loads((run / "config.json").read_text())
    config["data"] = str(tmp_path / "gone.csv")
    (run / "config.json").write_text(json.dumps(config))
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main(["train", "--resume", str(run), "--epochs", "6"]) == 2
    assert "gone.csv" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_run_missing_a_file_is_one_line(torch_run, tmp_path):
    import shutil

    from edgefer.errors import ModelError
    from edgefer.predictors import load_predictor

    broken = tmp_path / "broken"
    shutil.copytree(torch_run, broken)
    (broken / "model_info.json").unlink()
    with pytest.raises(ModelError, match="model_info.json: missing"):
        load_predictor(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="not a finished edgefer run"):
        load_predictor(broken)


@pytest.mark.slow
@requires_tf
def test_five_epochs_on_1200_faces_export_to_the_same_top1(tmp_path):
    """The torch engine's val top-1 and the float32 TFLite's agree within 1 pp on a longer run."""
    from edgefer.synthetic import fer_csv

    data = fer_csv(tmp_path / "fer.csv", n_train=172, n_val=30, seed=3)  # 1,204 training faces
    run = tmp_path / "run"
    code = (
        "import json, sys\n"
        "from edgefer.training import preset, train\n"
        f"r = train(preset('tiny', engine='torch', data={str(data)!r}, out={str(run)!r}, epochs=5,"
        " max_train_samples=0))\n"
        "print(json.dumps({'top1': r.metrics['top1'], 'faces': r.metrics['training']['train_faces']}))\n"
    )
    trained = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                        timeout=600).stdout.strip().splitlines()[-1])
    from edgefer.evaluate import EvaluateConfig, evaluate
    from edgefer.export import ExportConfig, export

    export(ExportConfig(model=str(run), data=str(data), out=str(tmp_path / "x"), formats=("float32",)))
    tflite = evaluate(EvaluateConfig(model=str(tmp_path / "x" / "model_float32.tflite"), data=str(data),
                                     split="PublicTest"))
    assert trained["faces"] >= 1200
    assert abs(tflite["top1"] - trained["top1"]) <= 0.01


def test_packed_imagenet_weights_replace_the_package(tmp_path, monkeypatch):
    """A float16 copy in the cache initialises the same backbone (to float16 precision)."""
    from edgefer.cli import main
    from edgefer.training.torch_engine.nets import build_model

    from_package = build_model("lite0", "lite0-imagenet")
    monkeypatch.setenv("EDGEFER_CACHE", str(tmp_path))
    assert main(["weights", "pack", "lite0"]) == 0
    packed = tmp_path / "lite0-imagenet.safetensors"
    assert 0 < packed.stat().st_size < 0.55 * sum(v.numel() * 4 for v in from_package.backbone.state_dict().values())
    from_copy = build_model("lite0", "lite0-imagenet")
    for (name, a), b in zip(from_package.backbone.state_dict().items(), from_copy.backbone.state_dict().values()):
        if a.dtype.is_floating_point:
            assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), name


def test_torch_engine_warm_starts_from_a_run_directory(torch_run, synthetic_csv):
    from edgefer.errors import ConfigError
    from edgefer.training.tensorfile import load_model_weights
    from edgefer.training.torch_engine.nets import build_model, state_arrays

    started = state_arrays(build_model("lite0", str(torch_run)))
    saved = load_model_weights(torch_run / "model.safetensors")
    assert all(np.array_equal(started[k], saved[k]) for k in saved)
    with pytest.raises(ConfigError, match="does not fit model family lite1"):
        build_model("lite1", "lite0-imagenet")
