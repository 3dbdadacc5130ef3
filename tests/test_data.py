import gzip

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main
from edgefer.data import (
    balanced_class_weights,
    load_csv,
    load_folder,
    load_split,
    pick_split,
    stratified_split,
    train_val,
)
from edgefer.errors import DataError
from edgefer.labels import LABELS
from edgefer.synthetic import faces, write_csv, write_folder


@pytest.fixture()
def two_splits():
    return {"Training": faces(6, 0), "PublicTest": faces(3, 1)}


def test_csv_loads_splits_labels_and_line_ids(tmp_path, two_splits):
    path = write_csv(tmp_path / "f.csv", two_splits)
    splits = load_csv(path)
    assert list(splits) == ["Training", "PublicTest"]
    train = splits["Training"]
    assert train.images.shape == (42, 48, 48) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.images, two_splits["Training"][0])
    np.testing.assert_array_equal(train.labels, two_splits["Training"][1])
    assert train.ids[0] == "2"  # line 1 is the header
    assert splits["PublicTest"].ids[0] == "44"


def test_gzip_and_plain_csv_and_folder_give_identical_arrays(tmp_path, two_splits):
    plain = load_csv(write_csv(tmp_path / "f.csv", two_splits))
    zipped = load_csv(write_csv(tmp_path / "f.csv.gz", two_splits, gz=True))
    folder = load_folder(write_folder(tmp_path / "img", {"train": two_splits["Training"]}))
    for a, b in ((plain["Training"], zipped["Training"]), (plain["Training"], folder["train"])):
        order_a, order_b = np.lexsort((a.images.reshape(len(a), -1).T)), np.lexsort(b.images.reshape(len(b), -1).T)
        np.testing.assert_array_equal(a.images[order_a], b.images[order_b])
        np.testing.assert_array_equal(a.labels[order_a], b.labels[order_b])


def test_folder_aliases_any_size_and_mode(tmp_path):
    images, labels = faces(2, 3)
    aliases = ("anger", "disgust", "fear", "happiness", "sadness", "surprised", "neutral")
    root = write_folder(tmp_path / "img", {"all": (images, labels)}, names=aliases) / "all"
    # One image as a big RGB JPEG: still comes back as a 48x48 grayscale face.
    big = root / "happiness" / "big.jpg"
    Image.fromarray(np.full((200, 160, 3), 120, np.uint8)).save(big)
    ds = load_folder(root)["all"]
    assert ds.images.shape[1:] == (48, 48)
    assert set(ds.labels.tolist()) == set(range(7))
    assert ds.labels[list(ds.ids).index(str(big))] == LABELS.index("happy")


def test_split_aliases(tmp_path, two_splits):
    path = write_csv(tmp_path / "f.csv", two_splits)
    splits = load_csv(path)
    assert pick_split(splits, "val").split == "PublicTest"
    assert pick_split(splits, "training").split == "Training"
    assert load_split(path).split == "PublicTest"  # the test/val split by default
    with pytest.raises(DataError, match="no split 'PrivateTest'"):
        load_split(path, "PrivateTest")


def _line(values):
    return ",".join(values) + "\n"


@pytest.mark.parametrize(
    "row, message",
    [
        (_line(["3", '"' + " ".join(["1"] * 100) + '"', "Training"]), "line 3: expected 2304 pixel values, found 100"),
        (_line(["3", '"' + " ".join(["1"] * 2303 + ["x"]) + '"', "Training"]), "line 3: pixel value 'x'"),
        (_line(["9", '"' + " ".join(["1"] * 2304) + '"', "Training"]), "line 3: unknown emotion label '9'"),
        (_line(["3", '"' + " ".join(["1"] * 2303 + ["300"]) + '"', "Training"]), "line 3: pixel values must lie in 0..255"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path, row, message):
    good = _line(["1", '"' + " ".join(["5"] * 2304) + '"', "Training"])
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n" + good + row + good)
    with pytest.raises(DataError, match=message) as err:
        load_csv(path)
    assert str(path) in str(err.value)
    skipped = load_csv(path, skip_bad=True)["Training"]
    assert len(skipped) == 2 and skipped.ids.tolist() == ["2", "4"]


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n7,1 2 3,Training\n")
    code = main(["train", "--data", str(path), "--out", str(tmp_path / "run"), "--preset", "tiny"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("edgefer: error: ") and "bad.csv: line 2" in err[-1]
    assert not (tmp_path / "run" / "config.json").exists()


def test_unreadable_image_and_empty_inputs(tmp_path):
    root = write_folder(tmp_path / "img", {"train": faces(1, 0)})
    bad = root / "train" / "fear" / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png: not a readable image"):
        load_folder(root)
    assert len(load_folder(root, skip_bad=True)["train"]) == 7
    empty = tmp_path / "empty.csv"
    empty.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match="no faces"):
        load_csv(empty)
    (tmp_path / "h.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="header must name"):
        load_csv(tmp_path / "h.csv")
    gz = tmp_path / "trunc.csv.gz"
    gz.write_bytes(gzip.compress(b"emotion,pixels,Usage\n")[:-8])
    with pytest.raises(DataError, match="trunc.csv.gz"):
        load_csv(gz)


def test_missing_class_is_an_error(tmp_path):
    images, labels = faces(4, 0)
    keep = labels != LABELS.index("disgust")
    path = write_csv(tmp_path / "f.csv", {"Training": (images[keep], labels[keep]), "PublicTest": faces(2, 1)})
    with pytest.raises(DataError, match="no faces of class.*disgust"):
        train_val(path)


def test_stratified_split_is_seeded_and_keeps_proportions(tmp_path):
    path = write_csv(tmp_path / "f.csv", {"Training": faces(20, 0)})
    train, val = train_val(path, val_split="val", val_fraction=0.25, seed=7)
    assert len(val) == 35 and len(train) == 105
    assert (val.class_counts() == 5).all()
    again = stratified_split(load_csv(path)["Training"], 0.25, 7)[1]
    np.testing.assert_array_equal(again.ids, val.ids)
    assert set(train.ids).isdisjoint(val.ids)


def test_balanced_class_weights_match_sklearn():
    sklearn = pytest.importorskip("sklearn.utils.class_weight")
    labels = np.array([0] * 50 + [1] * 5 + [2] * 20 + [3] * 70 + [4] * 30 + [5] * 10 + [6] * 15)
    expected = sklearn.compute_class_weight("balanced", classes=np.arange(7), y=labels)
    np.testing.assert_allclose(balanced_class_weights(labels), expected)


def test_artifacts_are_written_whole_with_the_usual_permissions(tmp_path):
    import os

    from edgefer.fileio import atomic_path, write_json

    write_json(tmp_path / "r.json", {"top1": np.float64(0.5)})
    assert (tmp_path / "r.json").read_text() == '{\n  "top1": 0.5\n}\n'
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "half.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
