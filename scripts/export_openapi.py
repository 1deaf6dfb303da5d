"""Write the API's OpenAPI document to openapi.json (`make openapi`). The committed copy is the
published contract: tests/test_contract.py fails when the app no longer matches it."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from expense_wise.app import create_app
from expense_wise.contract import build_contract
from expense_wise.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = REPO_ROOT / "openapi.json"


def render() -> str:
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(load_settings({"APP_ENV": "test", "DATA_DIR": data_dir}))
        return json.dumps(build_contract(app), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SNAPSHOT
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
