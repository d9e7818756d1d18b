"""The catalog file is validated on load, with clear errors."""
from __future__ import annotations

from decimal import Decimal

import pytest

from billing_core.domain.catalog import DEMO_CATALOG, CatalogError, load_catalog, parse_catalog

DEMO = DEMO_CATALOG.read_text(encoding="utf-8")


def test_demo_catalog_prices_are_decimals():
    catalog = load_catalog()
    assert catalog.plan_price("pro", "monthly") == Decimal("13.99")
    assert catalog.addon_price("webinar_1000", "annual") == Decimal("3400.00")
    assert catalog.addon("webinar_500_1m").one_off_price == Decimal("89.00")
    assert catalog.plan("business").min_licenses == 10 and catalog.plan("enterprise").sales_only


@pytest.mark.parametrize("broken, message", [
    (DEMO.replace("monthly: \"13.99\"", "weekly: \"13.99\""), "ciclo di fatturazione sconosciuto"),
    (DEMO.replace("\"21.99\"", "\"-21.99\""), "negativo"),
    (DEMO.replace("\"21.99\"", "21.99"), "tra virgolette"),
    (DEMO.replace("\"79.00\"", "\"79.001\""), "più di due decimali"),
    (DEMO.replace("  webinar_1000:\n", "  webinar_500:\n"), "duplicata"),
    ("plans: [unclosed", "non è YAML valido"),
    ("- just a list", "mappa"),
    (DEMO.replace("    min_licenses: 10\n", "    min_licenses: 0\n"), "min_licenses"),
])
def test_broken_catalogs_are_refused_with_a_clear_message(broken, message):
    with pytest.raises(CatalogError) as error:
        parse_catalog(broken)
    assert message in str(error.value)


def test_missing_catalog_file_and_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_CATALOG", str(tmp_path / "missing.yml"))
    with pytest.raises(CatalogError, match="impossibile leggere"):
        load_catalog()
    cheaper = tmp_path / "catalog.yml"
    cheaper.write_text(DEMO.replace("\"13.99\"", "\"9.99\""), encoding="utf-8")
    monkeypatch.setenv("BILLING_CATALOG", str(cheaper))
    assert load_catalog().plan_price("pro", "monthly") == Decimal("9.99")
