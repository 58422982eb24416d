"""``python -m service.vet DIR...``: load each model directory and quote its golden items, in a
throwaway process, before the service loads it.

Why a separate process: a damaged model file can do worse than raise. LightGBM, given a model
text cut off mid-tree, aborts the whole process from native code (``terminate called``), which
would take the service down with it. Here it takes down only this process; the service refuses
the model and keeps serving the old one. Prints one JSON line per directory: ``{"dir", "error"}``
(error ``""`` when the model is fine).
"""

from __future__ import annotations

import json
import sys


def main(directories: list[str]) -> int:
    from eta.model import EtaModel
    from service.store import ModelRefused, golden_check

    for directory in directories:
        try:
            golden_check(EtaModel.load(directory))
            error = ""
        except ModelRefused as exc:  # named once, by the store that refuses it
            error = str(exc).splitlines()[0][:300]
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        print(json.dumps({"dir": directory, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
