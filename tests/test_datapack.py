"""Face packs: lossless, accepted by --data, refused with one line when damaged."""

from __future__ import annotations

import numpy as np
import pytest

from edgefer.data import load_splits, train_val
from edgefer.errors import DataError


@pytest.fixture(scope="module")
def packed(synthetic_csv, tmp_path_factory):
    from edgefer.cli import main

    out = tmp_path_factory.mktemp("pack") / "fer.facepack"
    assert main(["data", "pack", str(synthetic_csv), "--out", str(out)]) == 0
    return out


def test_pack_is_lossless_with_labels_ids_and_splits(packed, synthetic_csv):
    original, restored = load_splits(synthetic_csv), load_splits(packed)
    assert list(restored) == list(original)
    for name, ds in original.items():
        np.testing.assert_array_equal(restored[name].images, ds.images)
        np.testing.assert_array_equal(restored[name].labels, ds.labels)
        assert list(restored[name].ids) == list(ds.ids)


def test_extreme_pixels_survive_the_residual(tmp_path):
    from edgefer.data import FaceDataset
    from edgefer.datapack import read_pack, write_pack

    rng = np.random.default_rng(0)
    faces = rng.choice(np.array([0, 1, 254, 255], np.uint8), size=(5000, 48, 48))  # > one chunk, worst-case jumps
    ds = FaceDataset(faces, rng.integers(0, 7, 5000), np.array([str(i) for i in range(5000)], dtype=object), "x", "all")
    write_pack(tmp_path / "x.facepack", {"all": ds})
    np.testing.assert_array_equal(read_pack(tmp_path / "x.facepack")["all"].images, faces)


def test_training_reads_a_pack_like_the_csv(packed, synthetic_csv):
    a_train, a_val = train_val(synthetic_csv, "Training", "PublicTest")
    b_train, b_val = train_val(packed, "Training", "PublicTest")
    np.testing.assert_array_equal(a_train.images, b_train.images)
    np.testing.assert_array_equal(a_val.labels, b_val.labels)


def test_only_the_chosen_splits_are_packed(synthetic_csv, tmp_path):
    from edgefer.data import PackConfig, pack

    report = pack(PackConfig(source=str(synthetic_csv), out=str(tmp_path / "t.facepack"), splits=("train",)))
    assert list(report["faces"]) == ["Training"] and list(load_splits(tmp_path / "t.facepack")) == ["Training"]


def test_damaged_and_foreign_files_are_one_line(packed, tmp_path, capsys):
    from edgefer.cli import main

    truncated = tmp_path / "cut.facepack"
    truncated.write_bytes(packed.read_bytes()[:-100])
    with pytest.raises(DataError, match="damaged face pack"):
        load_splits(truncated)
    (tmp_path / "other.facepack").write_bytes(b"PK\x03\x04 not a pack")
    with pytest.raises(DataError, match="not an edgefer face pack"):
        load_splits(tmp_path / "other.facepack")
    assert main(["data", "pack", "missing.csv", "--out", str(tmp_path / "m.facepack")]) == 2
    assert main(["data", "pack", str(packed), "--out", str(tmp_path / "wrong.npz")]) == 2
    assert capsys.readouterr().err.count("edgefer: error:") == 2
    assert not (tmp_path / "m.facepack").exists() and not list(tmp_path.glob(".*"))
