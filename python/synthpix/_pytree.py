"""Python trees <-> checkpoint leaves.

A tree is a leaf or a nested ``dict`` (string keys), ``list`` or ``tuple``. Leaves:

==============================  ============================  ===========================
Python                          stored as (sp_tree leaf)      restored as
==============================  ============================  ===========================
NumPy array or scalar, or any   array (zarr v2), one of the   ``numpy.ndarray`` (0-d for
object with ``__array__``       11 dtypes of ``dtypes()``     a scalar)
``int``                         int64 scalar                  ``int``
``float``                       float64 scalar (bit-exact)    ``float``
``str``                         string                        ``str``
``bool``, ``None``, ``{}``,     JSON document                 the same value
``[]``, ``()``
==============================  ============================  ===========================

Paths join dict keys and sequence indices with ``/`` (the library checks each component:
``[A-Za-z0-9_.-]``, starting with a letter or digit). Which nodes are lists or tuples is
recorded in the checkpoint's custom metadata under ``synthpix_pytree``, so a restore
without a target gives the same containers back; a bare leaf is stored as ``checkpoint``
(Orbax's ArrayCheckpointHandler name).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

META_KEY = "synthpix_pytree"
_LEAF_NAME = "checkpoint"

Leaf = Tuple[Any, ...]


def _array_leaf(path: str, value: Any) -> Leaf:
    a = np.asarray(value)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if not a.flags.c_contiguous:
        a = a.copy(order="C")  # not np.ascontiguousarray: it makes a 0-d array 1-d
    return (path, "array", a.dtype.str, tuple(int(d) for d in a.shape), a)


def _leaf(path: str, value: Any) -> Leaf:
    if isinstance(value, (np.ndarray, np.generic)):  # before float: np.float64 is a float
        return _array_leaf(path, value)
    if isinstance(value, bool) or value is None:
        return (path, "json", json.dumps(value))
    if isinstance(value, int):
        return (path, "i64", value)
    if isinstance(value, float):
        return (path, "f64", value)
    if isinstance(value, str):
        return (path, "str", value)
    if hasattr(value, "__array__"):  # torch tensors, JAX arrays, ...
        return _array_leaf(path, value)
    raise TypeError(f"leaf '{path or '<root>'}': a {type(value).__name__} cannot be checkpointed")


def flatten(tree: Any) -> Tuple[List[Leaf], Dict[str, Any]]:
    """The leaves of ``tree`` and the structure record stored beside them."""
    leaves: List[Leaf] = []
    containers: Dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            if not node:
                leaves.append((path, "json", "{}"))
            for key, child in node.items():
                if not isinstance(key, str):
                    raise TypeError(f"key {key!r} under '{path or '<root>'}': dict keys must be str")
                walk(child, f"{path}/{key}" if path else key)
        elif isinstance(node, (list, tuple)):
            containers[path] = "tuple" if isinstance(node, tuple) else "list"
            if not node:
                leaves.append((path, "json", "[]"))
            for i, child in enumerate(node):
                walk(child, f"{path}/{i}" if path else str(i))
        else:
            leaves.append(_leaf(path, node))

    meta: Dict[str, Any] = {"version": 1}
    if isinstance(tree, (Mapping, list, tuple)):
        walk(tree, "")
        if any(leaf[0] == "" for leaf in leaves):  # an empty container at the root
            leaves = [(_LEAF_NAME,) + leaf[1:] if leaf[0] == "" else leaf for leaf in leaves]
            meta["root"] = "leaf"
            containers = {_LEAF_NAME if k == "" else k: v for k, v in containers.items()}
    else:
        leaves.append(_leaf(_LEAF_NAME, tree))
        meta["root"] = "leaf"
    meta["containers"] = containers
    return leaves, meta


def _value(leaf: Sequence[Any]) -> Any:
    kind = leaf[1]
    if kind == "array":
        _, _, dtype, shape, data = leaf
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
    if kind == "json":
        return json.loads(leaf[2])
    return leaf[2]


def _as_container(node: Any, kind: Optional[str]) -> Any:
    if kind is None or not isinstance(node, dict):
        if kind == "tuple" and isinstance(node, list):
            return tuple(node)
        return node
    items = [node[k] for k in sorted(node, key=int)] if all(k.isdigit() for k in node) else list(node.values())
    return tuple(items) if kind == "tuple" else items


def unflatten(leaves: Sequence[Sequence[Any]], meta: Optional[Mapping[str, Any]]) -> Any:
    """Rebuilds a tree from restored leaves and the structure record (None: every interior
    node is a dict, as for a tree written in C)."""
    meta = meta or {}
    containers: Mapping[str, str] = meta.get("containers", {})
    root: Dict[str, Any] = {}
    for leaf in leaves:
        parts = leaf[0].split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _value(leaf)

    def build(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            node = {k: build(v, f"{path}/{k}" if path else k) for k, v in node.items()}
        return _as_container(node, containers.get(path))

    tree = build(root, "")
    if meta.get("root") == "leaf":
        return tree[_LEAF_NAME]
    return tree


def fill(target: Any, leaves: Sequence[Sequence[Any]]) -> Any:
    """The target's structure with the restored leaf values (a restore with a target)."""
    by_path = {leaf[0]: _value(leaf) for leaf in leaves}
    if not isinstance(target, (Mapping, list, tuple)) or not target:
        return _like(target, by_path[_LEAF_NAME])

    def build(node: Any, path: str) -> Any:
        if isinstance(node, Mapping) and node:
            return {k: build(v, f"{path}/{k}" if path else k) for k, v in node.items()}
        if isinstance(node, (list, tuple)) and node:
            items = [build(v, f"{path}/{i}" if path else str(i)) for i, v in enumerate(node)]
            return tuple(items) if isinstance(node, tuple) else items
        return _like(node, by_path[path])

    return build(target, "")


def _like(target: Any, value: Any) -> Any:
    """value in the type of the target leaf: tuples, NumPy scalars and torch tensors."""
    if isinstance(target, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(target, np.generic) and isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    if type(target).__module__ == "torch" and isinstance(value, np.ndarray):
        import torch  # only reached with a torch target, so torch is installed

        return torch.from_numpy(value)
    return value


def custom_metadata(structure: Mapping[str, Any], user: Optional[Mapping[str, Any]]) -> str:
    """The custom metadata JSON object of a save: the caller's keys plus the structure."""
    doc = dict(user or {})
    if META_KEY in doc:
        raise ValueError(f"custom_metadata key '{META_KEY}' is reserved")
    doc[META_KEY] = dict(structure)
    return json.dumps(doc)


def split_metadata(metadata_json: Optional[str]) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]], Dict[str, Any]]:
    """(custom metadata without the structure, the structure or None, metrics) of a step's
    ``_CHECKPOINT_METADATA``."""
    doc = json.loads(metadata_json) if metadata_json else {}
    custom = dict(doc.get("custom_metadata") or {})
    structure = custom.pop(META_KEY, None)
    return custom, structure, dict(doc.get("metrics") or {})
