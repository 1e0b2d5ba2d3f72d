"""No module of the app grows past about 400 lines (split it by concern instead)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def test_no_app_module_is_over_400_lines():
    paths = [*ROOT.glob("webapp/**/*.py"), *ROOT.glob("jobs/**/*.py"), ROOT / "config.py"]
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in paths
    }
    assert "webapp/admin/user_list.py" in sizes
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
