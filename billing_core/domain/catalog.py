"""The price catalog: loaded from the operator's YAML file and validated on load."""
from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping

import yaml

from billing_core.domain.documents import Party

CYCLES = ("monthly", "annual")
DEMO_CATALOG = Path(__file__).resolve().parent.parent / "demo_catalog.yml"


class CatalogError(ValueError):
    """The catalog file is missing, does not parse, or breaks a rule."""


@dataclass(frozen=True)
class PlanSpec:
    sku: str
    name: str
    rank: int
    prices: Mapping[str, Decimal]
    min_licenses: int
    max_licenses: int
    sales_only: bool = False


@dataclass(frozen=True)
class AddonSpec:
    sku: str
    name: str
    family: str
    capacity: int
    prices: Mapping[str, Decimal]  # recurring: per cycle; empty for one-off products
    one_off_price: Decimal | None = None
    duration_months: int | None = None

    @property
    def one_off(self) -> bool:
        return self.one_off_price is not None


@dataclass(frozen=True)
class AccountExecutive:
    name: str
    email: str
    callback_hours: int


@dataclass(frozen=True)
class Catalog:
    plans: Mapping[str, PlanSpec]
    addons: Mapping[str, AddonSpec]
    seller: Party
    domestic_tax_rate: Decimal
    default_account_executive: AccountExecutive

    def plan(self, sku: str) -> PlanSpec:
        return self.plans[sku]

    def addon(self, sku: str) -> AddonSpec:
        return self.addons[sku]

    def plan_price(self, sku: str, cycle: str) -> Decimal:
        return self.plans[sku].prices[cycle]

    def addon_price(self, sku: str, cycle: str) -> Decimal:
        spec = self.addons[sku]
        if spec.one_off:
            return spec.one_off_price  # type: ignore[return-value]
        return spec.prices[cycle]


def _price(value: object, where: str) -> Decimal:
    if isinstance(value, float):
        raise CatalogError(f"{where}: scrivi il prezzo tra virgolette (\"13.99\"), non come numero decimale")
    try:
        price = Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise CatalogError(f"{where}: prezzo non valido {value!r}") from None
    if not price.is_finite() or price < 0:
        raise CatalogError(f"{where}: prezzo negativo o non valido {value!r}")
    if price != price.quantize(Decimal("0.01")):
        raise CatalogError(f"{where}: il prezzo {value!r} ha più di due decimali")
    return price


def _prices(raw: object, where: str) -> dict[str, Decimal]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{where}: mancano i prezzi (monthly/annual)")
    prices = {}
    for cycle, value in raw.items():
        if cycle not in CYCLES:
            raise CatalogError(f"{where}: ciclo di fatturazione sconosciuto {cycle!r} (ammessi: monthly, annual)")
        prices[cycle] = _price(value, f"{where}.{cycle}")
    return prices


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys (a duplicate sku would silently win)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise CatalogError(f"chiave duplicata nel catalogo: {key!r} (riga {key_node.start_mark.line + 1})")
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_catalog(source: str) -> Catalog:
    try:
        raw = yaml.load(source, Loader=_UniqueKeyLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as error:
        raise CatalogError(f"il file del catalogo non è YAML valido: {error}") from None
    if not isinstance(raw, dict):
        raise CatalogError("il catalogo deve essere una mappa con 'plans' e 'addons'")
    try:
        plans = {}
        for sku, spec in (raw.get("plans") or {}).items():
            sales_only = bool(spec.get("sales_only", False))
            plans[sku] = PlanSpec(
                sku=sku,
                name=str(spec["name"]),
                rank=int(spec["rank"]),
                prices={} if sales_only else _prices(spec.get("prices"), f"plans.{sku}.prices"),
                min_licenses=int(spec.get("min_licenses", 1)),
                max_licenses=int(spec.get("max_licenses", 0 if sales_only else 1)),
                sales_only=sales_only,
            )
            if not sales_only and not 1 <= plans[sku].min_licenses <= plans[sku].max_licenses:
                raise CatalogError(f"plans.{sku}: min_licenses/max_licenses non coerenti")
        addons = {}
        for sku, spec in (raw.get("addons") or {}).items():
            if sku in plans:
                raise CatalogError(f"sku duplicato: {sku!r} è sia un piano sia un add-on")
            one_off = spec.get("one_off_price")
            addons[sku] = AddonSpec(
                sku=sku,
                name=str(spec["name"]),
                family=str(spec["family"]),
                capacity=int(spec["capacity"]),
                prices={} if one_off is not None else _prices(spec.get("prices"), f"addons.{sku}.prices"),
                one_off_price=None if one_off is None else _price(one_off, f"addons.{sku}.one_off_price"),
                duration_months=None if one_off is None else int(spec.get("duration_months", 1)),
            )
        seller = Party(**raw["seller"])
        ae = raw["default_account_executive"]
        catalog = Catalog(
            plans=plans,
            addons=addons,
            seller=seller,
            domestic_tax_rate=_price(raw["tax"]["domestic_rate"], "tax.domestic_rate"),
            default_account_executive=AccountExecutive(
                name=ae["name"], email=ae["email"], callback_hours=int(ae.get("callback_hours", 24))
            ),
        )
    except CatalogError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CatalogError(f"catalogo incompleto o malformato: {error!r}") from None
    if not {"pro", "business"} <= set(plans):
        raise CatalogError("il catalogo deve definire i piani 'pro' e 'business'")
    return catalog


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """The catalog at ``path``, else ``BILLING_CATALOG``, else the demo catalog."""
    location = Path(path or os.environ.get("BILLING_CATALOG") or DEMO_CATALOG)
    try:
        source = location.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(f"impossibile leggere il catalogo {location}: {error.strerror}") from None
    return parse_catalog(source)
