"""Read a PyTorch legacy-format (``torch.save`` before 1.6) state dict without torch.

The file is a sequence of pickles followed by raw storages. Unpickling is restricted
to an allow-list (OrderedDict, the tensor rebuild function, storage types), so a
crafted file cannot run code: anything else raises ``pickle.UnpicklingError``.
"""

from __future__ import annotations

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    def __init__(self, dtype: np.dtype, size: int) -> None:
        self.dtype, self.size = dtype, size
        self.data: np.ndarray | None = None


class _TensorRef:
    def __init__(self, storage: _Storage, offset: int, shape: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if not self.shape:
            return data[self.offset].copy()
        itemsize = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view)


def _rebuild_tensor_v2(storage, offset, shape, stride, requires_grad=False, hooks=None, *_):
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh, storages: dict[str, _Storage]) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, size = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("storage of unknown type")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(size))
        return self.storages[key]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Legacy-format ``.pth`` state dict -> {name: numpy array}."""
    path = Path(path)
    with open(path, "rb") as fh:
        magic = pickle.load(fh)  # plain ints only: the safe unpickler is not needed yet
        if magic != MAGIC_NUMBER:
            raise ValueError(f"{path}: not a PyTorch legacy-format file")
        pickle.load(fh)  # protocol version
        pickle.load(fh)  # sys info (endianness, type sizes)
        storages: dict[str, _Storage] = {}
        state = _RestrictedUnpickler(fh, storages).load()
        keys = _RestrictedUnpickler(fh, storages).load()
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", fh.read(8))
            raw = fh.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise ValueError(f"{path}: truncated storage {key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: does not hold a state dict")
    return {name: t.to_numpy() for name, t in state.items() if isinstance(t, _TensorRef)}
