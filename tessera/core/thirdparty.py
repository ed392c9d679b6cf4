"""Imports of libraries that warn on import, silenced at the one place they are imported.

asyncssh still supports DSA keys, and cryptography 44+ warns about DSA (ten lines of
`CryptographyDeprecationWarning` at import) although Tessera never accepts a DSA key. A user must
never see a library's warning, so the import happens here, under a filter for that warning only.
"""

from __future__ import annotations

import warnings
from types import ModuleType


def asyncssh() -> ModuleType:
    """The asyncssh module, imported without cryptography's deprecation warnings."""
    with warnings.catch_warnings():
        try:
            from cryptography.utils import CryptographyDeprecationWarning
        except ImportError:  # an older cryptography without the class warns about nothing
            pass
        else:
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        import asyncssh as module
    return module
