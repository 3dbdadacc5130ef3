"""The interpreter pool: concurrent callers and batch chunks each get their own
interpreter, the pool never grows past its size, and results equal sequential ones."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main
from edgefer.errors import ConfigError
from edgefer.runtime import EmotionClassifier, TFLiteModel

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INT8 = FIXTURES / "tiny_int8.tflite"
ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"


def faces(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_a_single_caller_makes_one_interpreter():
    model = TFLiteModel(INT8, pool_size=4)
    for face in faces(5):
        model.run_faces(face[None])
    assert model.pool.created == 1


def test_pool_grows_to_its_size_and_then_lends_what_is_returned():
    model = TFLiteModel(INT8, pool_size=2)
    expected = model.run_faces(faces(1))
    waiting_result = []
    with model.pool.borrow() as first, model.pool.borrow() as second:
        assert first is not second and model.pool.created == 2
        # The pool is exhausted: this call waits until an interpreter comes back.
        waiter = threading.Thread(target=lambda: waiting_result.append(model.run_faces(faces(1))))
        waiter.start()
    waiter.join()
    assert model.pool.created == 2
    np.testing.assert_array_equal(waiting_result[0], expected)


@pytest.mark.parametrize("pool_size", [1, 3])
def test_batches_spread_over_the_pool_equal_single_calls(pool_size):
    model = TFLiteModel(INT8, pool_size=pool_size)
    batch = faces(10)
    singles = np.concatenate([model.run_faces(face[None]) for face in batch])
    np.testing.assert_array_equal(model.run_faces(batch), singles)
    assert model.pool.created <= pool_size


def test_concurrent_classifier_callers_get_sequential_results():
    classifier = EmotionClassifier(INT8, pool_size=2)
    batch = faces(20)
    expected = [classifier.predict(face) for face in batch]
    results: list[list] = [[] for _ in range(3)]

    def work(caller: int) -> None:
        results[caller] = [classifier.predict(face) for face in batch]

    threads = [threading.Thread(target=work, args=(c,)) for c in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3 and classifier.model.pool.created <= 2


def test_detector_pool_gives_sequential_results_to_concurrent_callers():
    classifier = EmotionClassifier(INT8, pool_size=2)
    photo = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    photos = [photo, photo[:, ::-1].copy(), photo[100:, 50:].copy()] * 2
    expected = [classifier.detect(p) for p in photos]
    results = [None] * len(photos)

    def work(i: int) -> None:
        results[i] = classifier.detect(photos[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(photos))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected and classifier.detector.pool.created <= 2


def test_bad_pool_size():
    with pytest.raises(ConfigError, match="pool_size"):
        TFLiteModel(INT8, pool_size=0)


def test_bench_reports_each_caller_count(capfd, tmp_path):
    report = tmp_path / "b.json"
    assert main(["bench", str(INT8), "--callers", "1,2", "--runs", "10", "--warmup", "1", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())
    assert [r["callers"] for r in rows] == [1, 2] and all(r["faces_per_s"] > 0 for r in rows)
    assert capfd.readouterr().out.splitlines()[0].split()[:4] == ["model", "dtype", "threads", "callers"]
    assert main(["bench", str(INT8), "--callers", "0"]) == 2
    assert "caller counts" in capfd.readouterr().err
