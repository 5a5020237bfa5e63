"""Optional integrations, imported when first used rather than when a package is imported.

The adapters speak some vector stores' own interfaces: langchain-qdrant's ``SparseEmbeddings``, langchain-milvus's
``BaseSparseEmbedding`` and llama-index-vector-stores-milvus's ``BaseSparseEmbeddingFunction``. Importing any of
those packages imports its client (qdrant-client, pymilvus): most of a second on a quiet 2-core machine, several
seconds under load, for every user of ``import langchain_dashscope_embed`` whether or not they use that store.

So the adapter classes do not subclass these interfaces at import time. Each is a plain class that registers
itself as a virtual subclass of the interface (``ABCMeta.register``) when its first instance is made, if the
package is installed. All three interfaces are ABCs whose only concrete methods are sync-to-async fallbacks that
our classes define natively, so nothing is lost by not inheriting; ``isinstance(obj, Interface)`` (what the stores
and pydantic fields check) holds for every instance. Registering rather than building a subclass on first access
(a module ``__getattr__``) keeps one class object whatever is installed and whenever it is first touched: pickles,
type checkers and ``from package import Name`` all see the same class, and nothing is imported until an instance
is made.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

__all__ = ["optional_attr", "register_virtual_subclass"]

_registered: set[tuple[type, str, str]] = set()
_lock = threading.Lock()


def optional_attr(module: str, name: str, *, import_module: bool = True) -> Any | None:
    """``module.name`` if ``module`` imports (or, with ``import_module=False``, is already imported), else ``None``.

    Never raises: a missing package, or an installed one that fails to import, means the integration is off.
    """
    if not import_module and module not in sys.modules:
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except Exception:
        # A broken optional install must not break the adapters that merely offer the integration.
        return None


def register_virtual_subclass(cls: type, module: str, name: str, *, import_module: bool = True) -> bool:
    """Register ``cls`` as a virtual subclass of the ABC ``module.name`` (once); return whether it now is one.

    Called by an adapter class when its first instance is made (``import_module=True``: imports the interface's
    package, the cost this module exists to defer), and at the adapter's import with ``import_module=False`` (free:
    only when the caller already imported the package, so ``issubclass`` holds from the start in that case).
    Returns ``False`` when the package is not installed or ``module.name`` is not an ABC.
    """
    key = (cls, module, name)
    if key in _registered:
        return True
    base = optional_attr(module, name, import_module=import_module)
    if base is None or not callable(getattr(base, "register", None)):
        return False
    with _lock:
        base.register(cls)
        _registered.add(key)
    return True
