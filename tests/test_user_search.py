"""The users list's substring search: the same answers whichever plan serves it.

On SQLite a rare needle of three or more characters is found through the FTS5
trigram index (webapp/user_search.py), anything else by scanning the key index;
on PostgreSQL the planner picks its trigram GIN index itself. These tests pin
the answers, force each SQLite plan, and check the index follows every change
to a user.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp import user_search
from webapp.admin import user_list
from webapp.extensions import db
from webapp.models import User

NAMES = {
    "zoe": "Zoë Brown",
    "jose": "José Álvarez",
    "ann": "Ann O'Leary",
    "sam": 'Sam "Sly" Stone',
    "percy": "Percy 100% Sure",
    "una": "Una Under_score",
    "liam": "Liam Chen",
    "chen": "Chen Li",
}


@pytest.fixture
def firm(factory):
    system = factory.system(name="Harbour Law")
    for key, name in NAMES.items():
        factory.user(system, f"{key}@harbour.example", name)
    # Another firm's namesake: found by the index, never listed here.
    factory.user(factory.system(name="Other Firm"), "zoe@other.example", "Zoë Outsider")
    return system


def search(app, system, q: str) -> list[str]:
    """The names the users list shows for search `q` (sorted by name)."""
    with app.app_context():
        page = user_list.list_users(db.session, system.id, user_list.UserFilter(q=q))
        return [row.display_name for row in page.rows]


@pytest.fixture(params=["trigram index", "key scan"])
def plan(request, monkeypatch) -> str:
    """Force one of SQLite's two plans (PostgreSQL's planner chooses its own)."""
    if request.param == "key scan":
        monkeypatch.setattr(user_search, "MAX_DRIVING_HITS", 0)
    return request.param


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("zoe", ["Zoë Brown"]),
        ("ZOË", ["Zoë Brown"]),
        ("alvarez", ["José Álvarez"]),
        ("chen", ["Chen Li", "Liam Chen"]),
        ("o'leary", ["Ann O'Leary"]),
        ('"sly"', ['Sam "Sly" Stone']),
        ("100%", ["Percy 100% Sure"]),
        ("r_s", ["Una Under_score"]),
        ("r%s", []),  # % and _ are literal characters, not wildcards
        ("0% s", ["Percy 100% Sure"]),
        ("li", ["Chen Li", "Liam Chen"]),  # two characters: no trigram
        ("@harbour.ex", sorted(NAMES.values(), key=lambda n: user_list.search_key(n))),
        ("zzz", []),
    ],
)
def test_search_answers_the_same_on_every_plan(app, firm, plan, q, expected):
    assert search(app, firm, q) == expected


def test_a_rare_needle_is_found_through_the_index_on_sqlite(app, firm, db_backend):
    statements = []
    with app.app_context():
        sa.event.listen(
            db.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
        )
    assert search(app, firm, "o'leary") == ["Ann O'Leary"]
    uses_index = any("users_fts.search_key MATCH" in statement for statement in statements)
    assert uses_index == (db_backend == "sqlite")


def test_the_index_follows_renames_and_deletions(app, session, firm, plan):
    liam = session.exec(sa.select(User).where(User.email == "liam@harbour.example")).scalar_one()
    liam.display_name = "William Tane"
    liam.refresh_search_key()
    session.add(liam)
    session.commit()
    assert search(app, firm, "chen") == ["Chen Li"]
    assert search(app, firm, "tane") == ["William Tane"]

    session.delete(liam)
    session.commit()
    assert search(app, firm, "tane") == []


def test_a_needle_common_elsewhere_lists_only_this_firm(app, factory, firm, plan):
    other = factory.system(name="Big Other Firm")
    for number in range(5):
        factory.user(other, f"brown{number}@other.example", f"Brown {number}")
    assert search(app, firm, "brown") == ["Zoë Brown"]
