"""Import accounts from a CRM export (Salesforce/HubSpot-style CSV) with row-level validation.

Bad rows are reported with their line numbers and reasons and skipped; good rows are written in
one transaction (a crash leaves nothing partial behind) and upserted by external id, so importing
the same file twice changes nothing. Column names are matched loosely (case, spaces, underscores
and the usual CRM prefixes such as ``Billing``) so exports can be used as they come.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, Team

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

    @property
    def imported(self) -> int:
        """Rows that passed validation."""
        return self.created + self.updated + self.unchanged


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, missing required columns)."""


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

    def get(canonical: str) -> str:
        header = mapping.get(canonical)
        return (raw.get(header) or "").strip() if header else ""

    def problem(field_name: str, reason: str) -> _RowProblemError:
        return _RowProblemError(RowError(line, field_name, reason))

    external_id = get("external_id")
    if not external_id:
        raise problem("external_id", "external id is empty")
    if len(external_id) > 100:
        raise problem("external_id", "external id is longer than 100 characters")
    name = get("name")
    if not name:
        raise problem("name", "name is empty")
    address = _address(get)
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
    for raw in reader:
        line = reader.line_num
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
    """
    if isinstance(source, Path):
        text = await asyncio.to_thread(source.read_text, encoding="utf-8-sig")
    else:
        text = source
    rows, errors = read_rows(text, geocoder)
    report = ImportReport(errors=errors)
    teams = {t.name: t for t in (await session.execute(select(Team))).scalars()}
    existing = {
        a.external_id: a
        for a in (
            await session.execute(
                select(Account).where(Account.external_id.in_([r.external_id for r in rows]))
            )
        ).scalars()
    }
    for index, row in enumerate(rows, start=1):
        team_name = row.team or default_team
        team = None
        if team_name:
            team = teams.get(team_name)
            if team is None:
                team = Team(name=team_name)
                session.add(team)
                await session.flush()
                teams[team_name] = team
                report.teams_created += 1
        fields = dict(row.values)
        fields.update(name=row.name, lat=row.lat, lon=row.lon)
        if team is not None:
            fields["team_id"] = team.id
        account = existing.get(row.external_id)
        if account is None:
            session.add(Account(external_id=row.external_id, location=(row.lat, row.lon), **fields))
            report.created += 1
        elif any(getattr(account, k) != v for k, v in fields.items()):
            for key, value in fields.items():
                setattr(account, key, value)
            account.location = (row.lat, row.lon)
            report.updated += 1
        else:
            report.unchanged += 1
        if progress is not None and (index % 200 == 0 or index == len(rows)):
            progress(index, len(rows))
    await session.flush()
    return report
