"""ISO 3166-1 alpha-2 country codes and their names, from the tz database.

The names are the tz database's own short ones ("Bosnia & Herzegovina",
"Samoa (American)"), read from the `iso3166.tab` that the `tzdata` package
ships beside its zones, so they are updated with the timezones (README, "Why
these libraries").
"""

from __future__ import annotations

from importlib.resources import files


def _read_iso3166_tab() -> dict[str, str]:
    text = files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code: name for code, name in rows}


COUNTRIES: dict[str, str] = _read_iso3166_tab()
