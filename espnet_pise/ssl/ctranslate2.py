"""Read CTranslate2 ``model.bin`` files with numpy; no ctranslate2 needed.

The layout, as CTranslate2's ``python/ctranslate2/specs/model_spec.py`` writes it and
``src/models/model.cc`` reads it (little endian)::

    uint32 binary_version                    (this reader: 2..6)
    string spec_name; uint32 spec_revision   (binary_version >= 2)
    uint32 num_variables, then per variable:
        string name; uint8 rank; uint32 dims[rank]
        uint8 dtype_id; uint32 num_bytes      (binary_version >= 4; before: uint8 item_size)
        bytes data[num_bytes]
    uint32 num_aliases, then per alias: string alias; string target   (binary_version >= 3)

where ``string`` is a uint16 length (terminating NUL included) and that many bytes.
"""
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Dict, Union

import numpy as np

# ctranslate2::DataType (include/ctranslate2/types.h)
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BF16_ID = 5  # no numpy dtype: read as uint16 and widened to float32
SUPPORTED_VERSIONS = range(2, 7)


@dataclass
class CT2Model:
    """A CTranslate2 model: its spec name and revision, variables (aliases resolved)."""

    spec: str
    revision: int
    binary_version: int
    variables: Dict[str, np.ndarray]
    aliases: Dict[str, str] = field(default_factory=dict)


class CT2FormatError(ValueError):
    """A file that is not a complete CTranslate2 model.bin."""


def _read(f: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise CT2FormatError(f"{path}: truncated CTranslate2 model (file ends inside {what}; "
                             f"wanted {n} bytes at offset {f.tell() - len(data)}, got {len(data)})")
    return data


def _uint(f: BinaryIO, fmt: str, path: Path, what: str) -> int:
    return struct.unpack("<" + fmt, _read(f, struct.calcsize(fmt), path, what))[0]


def _string(f: BinaryIO, path: Path, what: str) -> str:
    n = _uint(f, "H", path, what)
    raw = _read(f, n, path, what)
    if n == 0 or raw[-1] != 0:
        raise CT2FormatError(f"{path}: corrupt CTranslate2 model (string in {what} is not NUL-terminated)")
    return raw[:-1].decode("utf-8")


def read_ct2(path: Union[str, Path]) -> CT2Model:
    """All variables of a CTranslate2 ``model.bin`` as numpy arrays (float16 stays float16).

    Raises CT2FormatError naming the file for an unknown version, a truncated or padded file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CTranslate2 model file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        version = _uint(f, "I", path, "the header")
        if version not in SUPPORTED_VERSIONS:
            raise CT2FormatError(f"{path}: not a CTranslate2 model.bin this reader knows (binary version "
                                 f"{version}; supported {SUPPORTED_VERSIONS.start}..{SUPPORTED_VERSIONS.stop - 1})")
        spec = _string(f, path, "the spec name")
        revision = _uint(f, "I", path, "the spec revision")
        n_vars = _uint(f, "I", path, "the variable count")
        variables: Dict[str, np.ndarray] = {}
        for i in range(n_vars):
            name = _string(f, path, f"variable {i}")
            rank = _uint(f, "B", path, name)
            shape = tuple(_uint(f, "I", path, name) for _ in range(rank))
            if version >= 4:
                dtype_id = _uint(f, "B", path, name)
                if dtype_id not in DTYPES and dtype_id != _BF16_ID:
                    raise CT2FormatError(f"{path}: variable {name} has unknown data type id {dtype_id}")
            else:  # item size only: 4 bytes are float32, 2 int16, 1 int8
                dtype_id = {4: 0, 2: 2, 1: 1}[_uint(f, "B", path, name)]
            num_bytes = _uint(f, "I", path, name)
            raw = _read(f, num_bytes, path, f"the data of {name}")
            if dtype_id == _BF16_ID:
                arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, np.dtype(DTYPES[dtype_id]).newbyteorder("<"))
            if arr.size != int(np.prod(shape)):
                raise CT2FormatError(f"{path}: variable {name} has {arr.size} values for shape {shape}")
            variables[name] = arr.reshape(shape)
        aliases: Dict[str, str] = {}
        if version >= 3:
            for i in range(_uint(f, "I", path, "the alias count")):
                alias = _string(f, path, f"alias {i}")
                aliases[alias] = _string(f, path, f"alias {alias}")
        if f.tell() != size:
            raise CT2FormatError(f"{path}: {size - f.tell()} unexpected bytes after the last record "
                                 "(corrupt or wrongly assembled model.bin)")
    for alias, target in aliases.items():
        if target not in variables:
            raise CT2FormatError(f"{path}: alias {alias} points to a missing variable {target}")
        variables[alias] = variables[target]
    return CT2Model(spec, revision, version, variables, aliases)
