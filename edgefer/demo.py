"""``edgefer demo``: the whole chain in a few minutes on faces it generates itself.

Generated faces (see :mod:`edgefer.synthetic`) -> the ``tiny`` training preset ->
quantize-aware int8 export with its parity gate -> the int8 model on the device
runtime. It proves an installation end to end; the shipped model is what to use
on real faces.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .configtypes import MAX_SEED, check_range
from .training.config import MAX_EPOCHS
from .synthetic import fer_csv

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    faces_per_class: int = 60
    epochs: int = 4
    seed: int = 0


def run_demo(config: DemoConfig) -> dict[str, Any]:
    check_range("--faces-per-class", config.faces_per_class, 1, 100_000)
    check_range("--epochs", config.epochs, 1, MAX_EPOCHS)
    check_range("--seed", config.seed, 0, MAX_SEED)
    from .export import ExportConfig, export
    from .runtime import EmotionClassifier
    from .synthetic import faces
    from .training import preset, train
    out = Path(config.out)
    if out.exists() and any(out.iterdir()):
        from .errors import ConfigError

        raise ConfigError(f"{out}: not empty; pass another --out")
    out.mkdir(parents=True, exist_ok=True)
    data = fer_csv(out / "faces.csv", n_train=config.faces_per_class, n_val=config.faces_per_class // 3,
                   seed=config.seed)
    started = time.time()
    log.info("demo 1/3: training the tiny preset on %s (%d epochs)", data, config.epochs)
    run = train(preset("tiny", data=str(data), out=str(out / "run"), epochs=config.epochs, seed=config.seed,
                       max_train_samples=0, verbose=0))  # the epoch lines only, no Keras progress bar
    log.info("demo 2/3 (%.0f s): quantize-aware int8 export with the parity gate; its steps follow",
             time.time() - started)
    report = export(ExportConfig(model=str(run.run_dir), data=str(data), formats=("int8", "float32")))
    int8_path = Path(report["out"]) / report["formats"]["int8"]["file"]
    log.info("demo 3/3 (%.0f s): the int8 model on the runtime (no TensorFlow in the loop)", time.time() - started)
    classifier = EmotionClassifier(int8_path)
    images, labels = faces(2, seed=config.seed + 99)
    predictions = classifier.predict_batch(list(images))
    correct = sum(p.label == classifier.labels[y] for p, y in zip(predictions, labels))
    log.info("demo done in %.0f s", time.time() - started)
    return {"run": str(run.run_dir), "float_top1": run.metrics["top1"], "export": report,
            "int8_model": str(int8_path), "runtime_correct": f"{correct}/{len(labels)}"}
