import numpy as np
import pytest

from edgefer.labels import LABELS
from edgefer.metrics import classification_report, expected_calibration_error

skm = pytest.importorskip("sklearn.metrics")


@pytest.fixture(params=[0, 1, 2])
def predictions(request):
    rng = np.random.default_rng(request.param)
    y = rng.integers(0, 7, 400)
    logits = rng.normal(size=(400, 7)) + 2.0 * np.eye(7)[y] * rng.random((400, 1))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


def test_report_matches_scikit_learn(predictions):
    y, probs = predictions
    pred = probs.argmax(axis=1)
    r = classification_report(y, probs)
    assert r["n"] == 400
    assert r["top1"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r["top3"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=3, labels=range(7)))
    assert r["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert r["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert r["macro_precision"] == pytest.approx(skm.precision_score(y, pred, average="macro", zero_division=0))
    assert r["macro_recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert r["log_loss"] == pytest.approx(skm.log_loss(y, probs, labels=range(7)), rel=1e-6)
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    recall = skm.recall_score(y, pred, average=None)
    assert r["per_class_recall"] == pytest.approx(dict(zip(LABELS, recall)))
    np.testing.assert_array_equal(r["confusion_matrix"], skm.confusion_matrix(y, pred, labels=range(7)))


def test_ece_is_zero_when_calibrated_and_large_when_overconfident():
    y = np.repeat(np.arange(7), 100)
    perfect = np.eye(7)[y]
    assert expected_calibration_error(y, perfect) == pytest.approx(0.0)
    wrong = np.eye(7)[(y + 1) % 7] * 0.99 + 0.01 / 7
    assert expected_calibration_error(y, wrong) > 0.9
