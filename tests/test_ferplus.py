"""FER+ votes: both forms users have, the targets both engines learn from, scores against both label sets."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import requires_tf

from edgefer import ferplus
from edgefer.data import load_splits
from edgefer.errors import ConfigError, DataError
from edgefer.labels import LABELS
from edgefer.synthetic import faces, votes_for, write_csv, write_ferplus_folder, write_votes_csv
from edgefer.training.targets import training_targets


def _votes(**columns: int) -> np.ndarray:
    row = np.zeros((1, len(ferplus.COLUMNS)), np.uint8)
    for name, count in columns.items():
        row[0, ferplus.COLUMNS.index(name)] = count
    return row


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A FER2013 CSV and its fer2013new.csv, whose votes name the class after each label."""
    root = tmp_path_factory.mktemp("ferplus")
    splits = {"Training": faces(40, 0), "PublicTest": faces(12, 1)}
    data = write_csv(root / "fer.csv", splits)
    usages = [u for u, (_, labels) in splits.items() for _ in labels]
    labels = np.concatenate([labels for _, labels in splits.values()])
    votes = votes_for(labels, seed=0, shift=1, removed_every=9)
    return data, write_votes_csv(root / "fer2013new.csv", usages, votes), votes


def test_the_pair_loads_row_by_row_and_removed_rows_carry_no_label(pair):
    data, votes_file, votes = pair
    splits = load_splits(data, votes=votes_file)
    train, val = splits["Training"], splits["PublicTest"]
    np.testing.assert_array_equal(np.concatenate([train.votes, val.votes]), votes)
    removed = ~ferplus.has_votes(train.votes)
    assert removed.sum() == (np.arange(len(votes))[: len(train)] % 9 == 8).sum() > 0
    plural = ferplus.plurality(train.votes)
    assert (plural[removed] == -1).all()
    assert (plural[~removed] == (train.labels[~removed] + 1) % 7).all()


def test_the_ferplus_folder_layout_loads_with_votes_and_no_fer2013_labels(tmp_path):
    images, labels = faces(3, 0)
    votes = votes_for(labels, seed=2)
    root = write_ferplus_folder(tmp_path / "FERPlus", {"FER2013Train": (images, votes),
                                                      "FER2013Valid": (images[:7], votes[:7])})
    splits = load_splits(root)
    train = splits["FER2013Train"]
    assert train.label_source == "ferplus" and len(train) == len(images)
    np.testing.assert_array_equal(train.votes, votes)
    np.testing.assert_array_equal(train.images, images)
    np.testing.assert_array_equal(train.labels, labels)  # seven of ten votes name the label
    with pytest.raises(ConfigError, match="needs FER2013's own labels"):
        training_targets(train, "fer2013")


def test_a_face_pack_carries_the_votes(pair, tmp_path):
    from edgefer.data import PackConfig, pack

    data, votes_file, _ = pair
    pack(PackConfig(source=str(data), out=str(tmp_path / "v.facepack"), votes=str(votes_file)))
    packed = load_splits(tmp_path / "v.facepack")
    original = load_splits(data, votes=votes_file)
    for name in original:
        np.testing.assert_array_equal(packed[name].votes, original[name].votes)
        assert packed[name].label_source == "fer2013"


def _edit(path, out, row_index, column, value):
    rows = list(csv.reader(open(path, newline="")))
    rows[row_index][column] = value
    with open(out, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return out


@pytest.mark.parametrize("column, value, message", [
    (0, "PublicTest", r"line 4: Usage 'PublicTest' does not match"),
    (2, "x", r"line 4: neutral 'x' is not a vote count"),
    (3, "-1", r"line 4: happiness '-1' is not a vote count"),
    (4, "²", r"line 4: surprise '²' is not a vote count"),
    (5, "9" * 400, r"line 4: sadness '9999"),
])
def test_bad_votes_are_one_line_errors_naming_the_row(pair, tmp_path, column, value, message):
    data, votes_file, _ = pair
    bad = _edit(votes_file, tmp_path / "bad.csv", 3, column, value)
    with pytest.raises(DataError, match=message):
        load_splits(data, votes=bad)


def test_votes_summing_to_zero_and_length_mismatches_are_refused(pair, tmp_path):
    data, votes_file, _ = pair
    rows = list(csv.reader(open(votes_file, newline="")))
    zero = rows[:2] + [rows[2][:2] + ["0"] * 10] + rows[3:]
    with open(tmp_path / "zero.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(zero)
    with pytest.raises(DataError, match=r"zero.csv: line 3: image .* has no votes"):
        load_splits(data, votes=tmp_path / "zero.csv")
    with open(tmp_path / "short.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows[:-1])
    with pytest.raises(DataError, match=r"short.csv: .* vote rows for .* image rows"):
        load_splits(data, votes=tmp_path / "short.csv")


def test_a_label_file_naming_a_missing_image_is_refused(tmp_path):
    images, labels = faces(1, 0)
    root = write_ferplus_folder(tmp_path / "FERPlus", {"FER2013Train": (images, votes_for(labels))})
    (root / "FER2013Train" / "fer0000003.png").unlink()
    with pytest.raises(DataError, match=r"label.csv: line 4: image 'fer0000003.png' .* is missing"):
        load_splits(root)


def test_plurality_excludes_ties_and_non_emotions_and_vote_share_counts_annotators():
    votes = np.concatenate([_votes(happiness=6, sadness=4), _votes(anger=5, fear=5), _votes(NF=6, fear=4),
                            _votes(contempt=7, disgust=3), np.zeros((1, 10), np.uint8),
                            _votes(disgust=6, contempt=3, unknown=1)])
    assert ferplus.plurality(votes).tolist() == [LABELS.index("happy"), -1, -1, -1, -1, LABELS.index("disgust")]
    assert ferplus.plurality_counts(votes) == {"scored": 2, "no_votes": 1, "ties": 1, "non_emotion": 2}
    share = ferplus.vote_share(votes, np.array([LABELS.index("sad")] * 6))
    assert share[0] == pytest.approx(0.4) and np.isnan(share[4])
    # Contempt, unknown and NF votes are dropped from the distribution, not folded into a class;
    # faces most annotators gave none of the seven emotions have no distribution at all.
    dist = ferplus.distribution(votes)
    assert dist[5, LABELS.index("disgust")] == 1.0
    assert dist[0, LABELS.index("happy")] == pytest.approx(0.6)
    assert ferplus.usable(votes).tolist() == [True, True, False, False, False, True]
    assert np.isnan(dist[[2, 3, 4]]).all()


def test_every_label_source_gives_its_own_targets(pair):
    data, votes_file, _ = pair
    train = load_splits(data, votes=votes_file)["Training"]
    shifted = (train.labels + 1) % 7
    plain = training_targets(train, "fer2013")
    assert plain.keep.all() and (plain.hard == train.labels).all()
    majority = training_targets(train, "ferplus-majority")
    assert (majority.hard == shifted[majority.keep]).all() and majority.counts["left_out"] > 0
    votes = training_targets(train, "ferplus-votes")
    assert np.allclose(votes.soft.sum(axis=1), 1) and votes.soft.max(axis=1).min() >= 0.7
    assert (votes.keep == ferplus.usable(train.votes)).all()
    mix = training_targets(train, "mix", votes_weight=0.25)
    assert mix.keep.all() and np.allclose(mix.soft.sum(axis=1), 1)
    voted = ferplus.usable(train.votes)
    # Faces without usable votes keep their one-hot label alone; the others are mostly one-hot.
    assert (mix.soft[~voted].max(axis=1) == 1).all() and (mix.hard == train.labels).all()
    with pytest.raises(ConfigError, match="needs FER\\+ votes"):
        training_targets(load_splits(data)["Training"], "ferplus-votes")


def test_soft_target_loss_with_one_hot_targets_is_torchs_cross_entropy():
    torch = pytest.importorskip("torch")
    from edgefer.training.config import TrainConfig
    from edgefer.training.torch_engine.trainer import _loss

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 7, generator=gen)
    y = torch.randint(0, 7, (16,), generator=gen)
    perm = torch.randperm(16, generator=gen)
    class_w = torch.rand(7, generator=gen) + 0.5
    config = TrainConfig(label_smoothing=0.1)
    ours = _loss(config, logits, torch.nn.functional.one_hot(y, 7).float(), perm, 0.7, class_w)
    F = torch.nn.functional
    ce = F.cross_entropy(logits, y, reduction="none", label_smoothing=0.1)
    ce_b = F.cross_entropy(logits, y[perm], reduction="none", label_smoothing=0.1)
    expected = (0.7 * ce * class_w[y] + 0.3 * ce_b * class_w[y[perm]]).mean()
    assert float(ours) == pytest.approx(float(expected), rel=1e-5)


def _tiny(engine, data, out, **overrides):
    from edgefer.training import AugmentConfig, preset

    flips = AugmentConfig(rotation_deg=0, zoom=0, shift=0, brightness=0, contrast=0)
    return preset("tiny", engine=engine, data=str(data), out=str(out), epochs=4, augment=flips, verbose=0,
                  max_train_samples=0, **overrides)


def test_torch_engine_learns_the_votes_and_scores_both_label_sets(pair, tmp_path):
    pytest.importorskip("torch")
    from edgefer.training import train

    data, votes_file, _ = pair
    result = train(_tiny("torch", data, tmp_path / "run", labels="ferplus-votes", votes=str(votes_file)))
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    # The votes name the class after each label: a model that learnt them is right on
    # FER+ and wrong on FER2013's labels.
    assert metrics["ferplus"]["top1"] > 0.6 > metrics["top1"]
    assert metrics["ferplus"]["counts"]["scored"] + metrics["ferplus"]["counts"]["no_votes"] == metrics["n"]
    assert json.loads((result.run_dir / "config.json").read_text())["labels"] == "ferplus-votes"


@requires_tf
def test_keras_engine_learns_the_votes_of_a_ferplus_folder(tmp_path):
    from edgefer.training import train

    train_faces, train_labels = faces(40, 0)
    val_faces, val_labels = faces(12, 1)
    root = write_ferplus_folder(tmp_path / "FERPlus", {
        "FER2013Train": (train_faces, votes_for(train_labels, shift=2)),
        "FER2013Valid": (val_faces, votes_for(val_labels, seed=1, shift=2))})
    result = train(_tiny("keras", root, tmp_path / "run", labels="ferplus-majority", train_split="train",
                         val_split="val"))
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["labels"] == "ferplus" and metrics["ferplus"]["top1"] > 0.6


def test_a_mismatched_votes_file_is_one_line_and_exit_2_and_writes_nothing(pair, tmp_path):
    import subprocess
    import sys

    data, votes_file, _ = pair
    bad = _edit(votes_file, tmp_path / "bad.csv", 5, 0, "PrivateTest")
    out = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "edgefer", "evaluate", "default", "--data", str(data),
                             "--votes", str(bad), "--split", "PublicTest", "--json", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.csv: line 6: Usage 'PrivateTest' does not match" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_evaluate_reports_both_label_sets(pair, tmp_path):
    from edgefer.evaluate import EvaluateConfig, evaluate

    data, votes_file, _ = pair
    report = evaluate(EvaluateConfig(model="default", data=str(data), votes=str(votes_file), split="PublicTest",
                                     json=str(tmp_path / "r.json")))
    written = json.loads((tmp_path / "r.json").read_text())
    counts = written["ferplus"]["counts"]
    assert counts["scored"] + counts["ties"] + counts["non_emotion"] + counts["no_votes"] == written["n"] == 84
    assert written["ferplus"]["top1"] == pytest.approx(report["ferplus"]["top1"])
    assert 0 <= written["ferplus"]["mean_vote_share"] <= 1
