"""Import accounts from a CRM export (Salesforce/HubSpot-style CSV) with row-level validation.

Bad rows are reported with their line numbers and reasons and skipped; good rows are written in
one transaction (a crash leaves nothing partial behind) and upserted by external id, so importing
the same file twice changes nothing. Column names are matched loosely (case, spaces, underscores
and the usual CRM prefixes such as ``Billing``) so exports can be used as they come.

What a row can never do (issue 13):
    * reach the database with a value it would refuse: a NUL (PostgreSQL text cannot hold one)
      or a value longer than its column is that row's rejection, so one bad row never aborts
      the import with a driver traceback;
    * touch another team's account. External ids are unique across all teams (the
      ``uq_accounts_external_id`` constraint), so an id that another team's account already has
      cannot become a second account here: the row is rejected with that reason. An account of
      no team may be claimed by a team's import; a row without a team updates only accounts of
      no team;
    * hit the bind-parameter limit (32,767 on PostgreSQL): lookups, inserts and updates go in
      chunks of :data:`CHUNK` rows, so 100,000 rows import on both stores.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, Team
from backend.services.import_encoding import NotTextError, decode_import_bytes

# canonical field -> accepted header spellings (normalised: lower-case, no spaces/_/-)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("externalid", "id", "accountid", "recordid", "crmid", "companyid"),
    "name": ("name", "accountname", "companyname", "company"),
    "address": ("address", "billingaddress", "streetaddress", "fulladdress"),
    "street": ("street", "billingstreet", "address1"),
    "city": ("city", "billingcity"),
    "postal_code": ("postalcode", "zip", "zipcode", "billingpostalcode", "postcode"),
    "country": ("country", "billingcountry"),
    "lat": ("lat", "latitude", "billinglatitude"),
    "lon": ("lon", "lng", "long", "longitude", "billinglongitude"),
    "segment": ("segment", "industry"),
    "tier": ("tier", "accounttier", "rating"),
    "potential": ("potential", "annualrevenue", "revenue", "potentialrevenue"),
    "visit_cadence_days": ("visitcadencedays", "cadencedays", "cadence", "visitintervaldays"),
    "visit_duration_min": ("visitdurationmin", "visitminutes", "durationmin", "visitduration"),
    "opening_hours": ("openinghours", "hours"),
    "team": ("team", "teamname", "salesteam"),
    "engagement": ("engagement", "engagementscore"),
    "open_opportunities": ("openopportunities", "opportunities", "openopps"),
}
TIERS = ("A", "B", "C", "D")
MAX_ERRORS_REPORTED = 1000
CHUNK = 1000
"""Rows per statement: 17 columns x 1000 rows stays far below PostgreSQL's 32,767 parameters."""
MAX_LENGTH: dict[str, int] = {
    "external_id": 100,
    "name": 300,
    "address": 500,
    "segment": 100,
    "opening_hours": 2000,
    "team": 200,
}
"""Longest value per field: the column sizes in ``backend/db/models.py`` (``opening_hours`` is
``Text``; 2000 characters is far beyond any week's hours)."""
_COMPARED = (
    "name",
    "lat",
    "lon",
    "team_id",
    "address",
    "opening_hours",
    "segment",
    "tier",
    "potential",
    "visit_cadence_days",
    "visit_duration_min",
    "engagement",
    "open_opportunities",
)

Geocoder = Callable[[str], tuple[float, float] | None]
"""Address -> ``(lat, lon)``; ``None`` or a ``LookupError`` with the reason when not found."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: the 1-based line number in the file (header is line 1) and why."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"line {self.line}{where}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import did; the CLI prints it and the API returns it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    teams_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        """Rows that passed validation."""
        return self.created + self.updated + self.unchanged


class ImportFileError(Exception):
    """The file as a whole cannot be read (not text, not CSV, missing required columns)."""


def _normalise(header: str) -> str:
    return re.sub(r"[\s_\-./]+", "", header.strip().lower().lstrip("\ufeff"))


def map_columns(headers: Iterable[str]) -> dict[str, str]:
    """Canonical field -> header in the file; raises when id, name or location are missing."""
    by_norm = {_normalise(h): h for h in headers if h}
    mapping: dict[str, str] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in by_norm:
                mapping[canonical] = by_norm[alias]
                break
    missing = [c for c in ("external_id", "name") if c not in mapping]
    has_coords = "lat" in mapping and "lon" in mapping
    has_address = "address" in mapping or "street" in mapping
    if not has_coords and not has_address:
        missing.append("lat+lon or address")
    if missing:
        msg = (
            f"missing required column(s): {', '.join(missing)}; "
            f"found: {', '.join(sorted(by_norm.values()))}. See README 'Importing accounts'."
        )
        raise ImportFileError(msg)
    return mapping


@dataclass(slots=True)
class AccountRow:
    """A validated row, ready to upsert."""

    line: int
    external_id: str
    name: str
    lat: float
    lon: float
    team: str | None
    values: dict[str, Any]


def _float(raw: str, field_name: str) -> float:
    try:
        value = (
            float(raw.replace(",", ".")) if raw.count(",") == 1 and "." not in raw else float(raw)
        )
    except ValueError as exc:
        raise ValueError(f"{field_name} {raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise ValueError(f"{field_name} {raw!r} is not a finite number")
    return value


def _int(raw: str, field_name: str, lo: int, hi: int) -> int:
    try:
        value = int(float(raw))
    except ValueError as exc:
        raise ValueError(f"{field_name} {raw!r} is not a whole number") from exc
    if not lo <= value <= hi:
        raise ValueError(f"{field_name} {value} is outside {lo}..{hi}")
    return value


def _address(get: Callable[[str], str]) -> str | None:
    if get("address"):
        return get("address")
    parts = [get("street"), " ".join(p for p in (get("postal_code"), get("city")) if p)]
    parts.append(get("country"))
    joined = ", ".join(p for p in parts if p)
    return joined or None


def validate_row(
    line: int, raw: dict[str, str], mapping: dict[str, str], geocoder: Geocoder | None
) -> AccountRow:
    """Turn one CSV row into an :class:`AccountRow`; a problem names the field at fault."""

    # Each mapped value stripped once: the checks below read most fields several times.
    cells = {canonical: (raw.get(header) or "").strip() for canonical, header in mapping.items()}

    def get(canonical: str) -> str:
        return cells.get(canonical, "")

    def problem(field_name: str, reason: str) -> _RowProblemError:
        return _RowProblemError(RowError(line, field_name, reason))

    for column, value in cells.items():
        if "\x00" in value:
            raise problem(column, f"{column} contains a NUL character (binary data?)")
        limit = MAX_LENGTH.get(column)
        if limit is not None and len(value) > limit:
            raise problem(column, f"{column} is longer than {limit} characters")
    external_id = get("external_id")
    if not external_id:
        raise problem("external_id", "external id is empty")
    name = get("name")
    if not name:
        raise problem("name", "name is empty")
    address = _address(get)
    if address is not None and len(address) > MAX_LENGTH["address"]:
        raise problem("address", f"address is longer than {MAX_LENGTH['address']} characters")
    lat_raw, lon_raw = get("lat"), get("lon")
    if lat_raw or lon_raw:
        try:
            lat = _float(lat_raw, "latitude")
            lon = _float(lon_raw, "longitude")
        except ValueError as exc:
            raise problem("lat" if "lat" in str(exc) else "lon", str(exc)) from exc
        if not -90 <= lat <= 90:
            raise problem("lat", f"latitude {lat} is outside -90..90")
        if not -180 <= lon <= 180:
            raise problem("lon", f"longitude {lon} is outside -180..180")
    elif address and geocoder is not None:
        try:
            found = geocoder(address)
        except LookupError as exc:  # the geocoder says why (unknown street, several towns)
            raise problem("address", f"address {address!r}: {exc}") from exc
        if found is None:
            raise problem("address", f"address {address!r} was not found in the region's map data")
        lat, lon = found
    elif address:
        raise problem("address", "no coordinates, and no map data to look the address up in")
    else:
        raise problem("lat", "no coordinates and no address")

    values: dict[str, Any] = {"address": address, "opening_hours": get("opening_hours") or None}
    try:
        values["segment"] = get("segment") or None
        tier = get("tier").upper()
        if tier and tier not in TIERS:
            raise problem("tier", f"tier {tier!r} is not one of {', '.join(TIERS)}")
        values["tier"] = tier or None
        potential = _float(get("potential"), "potential") if get("potential") else 0.0
        if potential < 0:
            raise problem("potential", f"potential {potential} is negative")
        values["potential"] = potential
        cadence = get("visit_cadence_days")
        values["visit_cadence_days"] = _int(cadence, "cadence", 1, 3650) if cadence else 30
        duration = get("visit_duration_min")
        values["visit_duration_min"] = _int(duration, "duration", 1, 600) if duration else 30
        engagement = get("engagement")
        values["engagement"] = _float(engagement, "engagement") if engagement else 0.0
        opps = get("open_opportunities")
        values["open_opportunities"] = _int(opps, "open opportunities", 0, 100000) if opps else 0
    except ValueError as exc:
        field_name = next(
            (
                f
                for f in ("potential", "cadence", "duration", "engagement", "open")
                if f in str(exc)
            ),
            None,
        )
        canonical = {
            "cadence": "visit_cadence_days",
            "duration": "visit_duration_min",
            "open": "open_opportunities",
        }.get(field_name or "", field_name)
        raise problem(canonical or "row", str(exc)) from exc
    return AccountRow(line, external_id, name, lat, lon, get("team") or None, values)


class _RowProblemError(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def read_rows(
    text: str, geocoder: Geocoder | None = None
) -> tuple[list[AccountRow], list[RowError]]:
    """Parse and validate every row; a repeated external id keeps the first row only."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames:
        raise ImportFileError("the file is empty or has no header row")
    mapping = map_columns(reader.fieldnames)
    rows: list[AccountRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, raw in _records(reader, errors):
        if None in raw:
            errors.append(RowError(line, None, "more values than header columns"))
            continue
        if not any((v or "").strip() for v in raw.values()):
            continue
        try:
            row = validate_row(line, raw, mapping, geocoder)
        except _RowProblemError as exc:
            errors.append(exc.error)
            continue
        if row.external_id in seen:
            errors.append(
                RowError(
                    line,
                    "external_id",
                    f"external id {row.external_id!r} already on line {seen[row.external_id]}",
                )
            )
            continue
        seen[row.external_id] = line
        rows.append(row)
    return rows, errors


def _records(
    reader: csv.DictReader[str], errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """The reader's rows with their line numbers; a row the csv module cannot parse (a field
    over its size limit, after an unclosed quote) is a rejection on its line, not a crash."""
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # DictReader updates its own line_num only after a good row; its reader's is current.
            errors.append(RowError(reader.reader.line_num, None, f"unreadable CSV: {exc}"))
            continue
        yield reader.line_num, raw


def read_import_file(path: Path) -> tuple[str, str | None]:
    """The file's text and a note when its encoding was guessed (see ``import_encoding``).

    Raises:
        ImportFileError: The file is binary or undecodable.
    """
    try:
        decoded = decode_import_bytes(path.read_bytes())
    except NotTextError as exc:
        raise ImportFileError(f"{path.name}: {exc}") from None
    return decoded.text, decoded.note


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _existing(
    session: AsyncSession, external_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Stored accounts by external id, read in chunks (never one IN list of 100,000 ids)."""
    columns = [Account.id, Account.external_id, *(getattr(Account, c) for c in _COMPARED)]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(external_ids):
        result = await session.execute(select(*columns).where(Account.external_id.in_(chunk)))
        for row in result.mappings():
            found[row["external_id"]] = dict(row)
    return found


def _other_team_reason(row: AccountRow, account_team: int, team_id: int | None) -> str | None:
    """Why ``row`` may not update a stored account of ``account_team``, or ``None``."""
    if team_id == account_team:
        return None
    if team_id is None:
        return (
            f"external id {row.external_id!r} is an account of a team; name the team "
            "(--team or a team column) to update it"
        )
    return (
        f"external id {row.external_id!r} belongs to another team's account; external ids are "
        "unique across teams, so this row was not imported (give it an id of its own)"
    )


async def import_accounts(
    session: AsyncSession,
    source: Path | str,
    *,
    default_team: str | None = None,
    geocoder: Geocoder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate ``source`` and upsert its good rows in the caller's transaction.

    The caller commits (or rolls back on any exception), which is what makes the import atomic.
    A ``Path`` is read in whatever encoding it has (``import_encoding``); a ``str`` is the text.

    Raises:
        ImportFileError: The file as a whole cannot be read.
    """
    note: str | None = None
    if isinstance(source, Path):
        text, note = await asyncio.to_thread(read_import_file, source)
    else:
        text = source
    rows, errors = read_rows(text, geocoder)
    report = ImportReport(errors=errors)
    if note:
        report.notes.append(note)
    teams = {t.name: t for t in (await session.execute(select(Team))).scalars()}
    existing = await _existing(session, [r.external_id for r in rows])

    accepted: list[AccountRow] = []
    for row in rows:
        team_name = row.team or default_team
        known = teams.get(team_name) if team_name else None
        stored = existing.get(row.external_id)
        if stored is not None and stored["team_id"] is not None:
            team_id = known.id if known is not None else (None if team_name is None else -1)
            reason = _other_team_reason(row, stored["team_id"], team_id)
            if reason:
                report.errors.append(RowError(row.line, "external_id", reason))
                continue
        accepted.append(row)

    for new_name in dict.fromkeys(r.team or default_team for r in accepted):
        if new_name and new_name not in teams:
            team = Team(name=new_name)
            session.add(team)
            teams[new_name] = team
            report.teams_created += 1
    await session.flush()

    now = dt.datetime.now(dt.UTC)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in accepted:
        team_name = row.team or default_team
        fields = dict(row.values)
        fields.update(name=row.name, lat=row.lat, lon=row.lon)
        if team_name:
            fields["team_id"] = teams[team_name].id
        stored = existing.get(row.external_id)
        if stored is None:
            inserts.append(
                {"external_id": row.external_id, "location": (row.lat, row.lon), **fields}
            )
        elif any(stored[k] != v for k, v in fields.items()):
            updates.append(
                {"id": stored["id"], "location": (row.lat, row.lon), "updated_at": now, **fields}
            )
        else:
            report.unchanged += 1
    total, done = len(inserts) + len(updates), 0
    for statement, batch in ((insert(Account), inserts), (update(Account), updates)):
        for chunk in _chunks(batch):
            await session.execute(statement, list(chunk))
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    report.created, report.updated = len(inserts), len(updates)
    report.errors.sort(key=lambda e: e.line)
    return report
