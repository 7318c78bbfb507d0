"""The platform key(s) as a key provider: wraps every data key, in memory, from settings.

The shared ``StaticKeyProvider`` (services/runtime/sealing.py): several keys may be configured
during a rotation; new data keys are wrapped under the current one, older ones still unwrap.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.runtime.sealing import StaticKeyProvider


class PlatformKeyProvider(StaticKeyProvider):
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        super().__init__(keys, purpose="platform")
