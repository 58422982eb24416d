"""``python -m service.keys NAME SCOPE...``: make an API key and print its configuration entry.

The key is shown once; only its digest goes into ``ETA_API_KEYS``.
"""

from __future__ import annotations

import json
import sys

from service.security import SCOPES, new_key


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any(s not in SCOPES for s in argv[1:]):
        print(f"usage: python -m service.keys NAME SCOPE... (scopes: {', '.join(SCOPES)})")
        return 2
    key, entry = new_key(argv[0], argv[1:])  # type: ignore[arg-type]
    print(f"key (give it to the caller, it is not stored): {key}")
    print(f"ETA_API_KEYS entry: {json.dumps(entry.model_dump(mode='json'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
