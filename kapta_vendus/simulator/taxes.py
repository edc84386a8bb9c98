"""VAT rates of the account, ``tax_custom`` countries, exemption codes and the NIF check digit.

Vendus has no per-store region (reference vendus-api §3.4): an item's rate comes from the account
(mainland 23/13/6 on a Portuguese account, §5.3) unless the item carries ``tax_custom {country, rate,
code, type}``, the only way to charge Madeira (PT-MA) or Azores (PT-AC) rates. The regional tables
(pt-invoicing-rules §2: Madeira 22/12/4, RED 5 before 2024-10-01; Azores 16/9/4) only serve accounts
whose fixture says they are based on an island, and the AT QR code's per-region fields.
"""

from __future__ import annotations

from decimal import Decimal

REGIONS: dict[str, dict] = {
    "mainland": {"country": "PT", "tz": "Europe/Lisbon", "NOR": 23, "INT": 13, "RED": 6},
    "madeira": {"country": "PT-MA", "tz": "Atlantic/Madeira", "NOR": 22, "INT": 12, "RED": 4},
    "azores": {"country": "PT-AC", "tz": "Atlantic/Azores", "NOR": 16, "INT": 9, "RED": 4},
}
MADEIRA_RED_CHANGE = "2024-10-01"  # 5 % before this date, 4 % from it

TAX_IDS = ("NOR", "INT", "RED", "ISE", "OUT")
TAX_TITLES = {"NOR": "Normal", "INT": "Intermédia", "RED": "Reduzida", "ISE": "Isento", "OUT": "Outros"}

# ``tax_custom.country``: the Portuguese regions, plus the EU member states (another country's VAT).
TAX_CUSTOM_COUNTRIES = frozenset(
    {"PT", "PT-MA", "PT-AC"}
    | {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)

# The account's ``taxes/exemptions/`` (vendus-api §5.3): code -> (text = the label, law = the legal
# article, pt-invoicing-rules §2). M44-M46 are not in Vendus's list, so they are refused. M03, M08 and
# M26 are listed marked as revoked/expired and refused on documents unless ``accept_revoked_exemptions``.
EXEMPTIONS: dict[str, tuple[str, str]] = {
    "M01": ("Isento artigo 16.º, n.º 6 do CIVA", "Artigo 16.º, n.º 6, alíneas a) a d) do CIVA"),
    "M02": ("Isento artigo 6.º do Decreto-Lei n.º 198/90", "Artigo 6.º do Decreto-Lei n.º 198/90, de 19 de junho"),
    "M03": ("Exigibilidade de caixa (revogado)", "Decreto-Lei n.º 204/97, de 9 de agosto"),
    "M04": ("Isento artigo 13.º do CIVA", "Artigo 13.º do CIVA"),
    "M05": ("Isento artigo 14.º do CIVA", "Artigo 14.º do CIVA"),
    "M06": ("Isento artigo 15.º do CIVA", "Artigo 15.º do CIVA"),
    "M07": ("Isento artigo 9.º do CIVA", "Artigo 9.º do CIVA"),
    "M08": ("IVA - autoliquidação (revogado)", "Artigo 2.º, n.º 1, alínea i) do CIVA"),
    "M09": ("IVA - não confere direito a dedução", "Artigo 62.º alínea b) do CIVA"),
    "M10": ("IVA - regime de isenção", "Artigo 53.º do CIVA"),
    "M11": ("Regime particular do tabaco", "Decreto-Lei n.º 346/85, de 23 de agosto"),
    "M12": ("Regime da margem de lucro - Agências de viagens", "Decreto-Lei n.º 221/85, de 3 de julho"),
    "M13": ("Regime da margem de lucro - Bens em segunda mão", "Decreto-Lei n.º 199/96, de 18 de outubro"),
    "M14": ("Regime da margem de lucro - Objetos de arte", "Decreto-Lei n.º 199/96, de 18 de outubro"),
    "M15": ("Regime da margem de lucro - Objetos de coleção e antiguidades", "Decreto-Lei n.º 199/96"),
    "M16": ("Isento artigo 14.º do RITI", "Artigo 14.º do RITI"),
    "M19": ("Outras isenções", "Isenções temporárias determinadas em diploma próprio"),
    "M20": ("IVA - regime forfetário", "Artigo 59.º-D n.º 2 do CIVA"),
    "M21": ("IVA - não confere direito à dedução (ou expressão similar)", "Artigo 72.º n.º 4 do CIVA"),
    "M25": ("Mercadorias à consignação", "Artigo 38.º n.º 1 alínea a) do CIVA"),
    "M26": ("Isenção de IVA com direito à dedução no cabaz alimentar (expirado)", "Lei n.º 17/2023"),
    "M30": ("IVA - autoliquidação", "Artigo 2.º n.º 1 alínea i) do CIVA"),
    "M31": ("IVA - autoliquidação", "Artigo 2.º n.º 1 alínea j) do CIVA"),
    "M32": ("IVA - autoliquidação", "Artigo 2.º n.º 1 alínea l) do CIVA"),
    "M33": ("IVA - autoliquidação", "Artigo 2.º n.º 1 alínea m) do CIVA"),
    "M34": ("IVA - autoliquidação", "Artigo 2.º n.º 1 alínea n) do CIVA"),
    "M40": ("IVA - autoliquidação", "Artigo 6.º n.º 6 alínea a) do CIVA, a contrário"),
    "M41": ("IVA - autoliquidação", "Artigo 8.º n.º 3 do RITI"),
    "M42": ("IVA - autoliquidação", "Decreto-Lei n.º 21/2007, de 29 de janeiro"),
    "M43": ("IVA - autoliquidação", "Decreto-Lei n.º 362/99, de 16 de setembro"),
    "M99": ("Não sujeito ou não tributado", "Artigos 2.º n.º 2, 3.º n.ºs 4, 6 e 7 e 4.º n.º 5 do CIVA"),
}
REVOKED_EXEMPTIONS = frozenset({"M03", "M08", "M26"})

# First digits a Portuguese NIF may start with (reference: pt-invoicing-rules §1). Prefix 8 is an
# obsolete range that some validators still accept; the simulator accepts it rather than guess.
_NIF_PREFIXES_1 = frozenset("12356")
_NIF_PREFIXES_2 = frozenset({"45", "70", "71", "72", "74", "75", "77", "78", "79", "90", "91", "98", "99"})
GENERIC_CONSUMER_NIF = "999999990"


def region_info(region: str) -> dict:
    return REGIONS[region]


def rate_for(region: str, tax_id: str, date: str) -> Decimal:
    """The VAT rate (percent) of ``tax_id`` in ``region`` on ``date``; 0 for ISE and OUT."""
    if tax_id in ("ISE", "OUT"):
        return Decimal(0)
    if region == "madeira" and tax_id == "RED" and date < MADEIRA_RED_CHANGE:
        return Decimal(5)
    return Decimal(REGIONS[region][tax_id])


def taxes_listing(region: str, *, every_region: bool = False) -> list[dict]:
    """Rows for GET taxes/: ``{id, rate, country, title}`` (rate is numeric, as on the real API)."""
    regions = list(REGIONS) if every_region else [region]
    rows = []
    for name in regions:
        info = REGIONS[name]
        for tax_id in TAX_IDS:
            rate = info.get(tax_id, 0)
            rows.append({"id": tax_id, "rate": rate, "country": info["country"], "title": TAX_TITLES[tax_id]})
    return rows


def exemptions_listing() -> list[dict]:
    """Rows for GET taxes/exemptions/: ``{id, text, law}``, revoked codes included (their text says so)."""
    return [{"id": code, "text": text, "law": law} for code, (text, law) in EXEMPTIONS.items()]


def exemption_law(code: str) -> str:
    """The legal article the account shows for ``code`` (used when an item leaves the law out)."""
    return EXEMPTIONS[code][1]


def normalize_nif(value: str) -> str:
    cleaned = "".join(ch for ch in str(value) if ch not in " .-").upper()
    return cleaned[2:] if cleaned.startswith("PT") else cleaned


def nif_is_valid(value: str) -> bool:
    """Portuguese NIF: 9 digits, an allowed prefix and the mod-11 check digit."""
    nif = normalize_nif(value)
    if len(nif) != 9 or not nif.isdigit():
        return False
    if nif[0] not in _NIF_PREFIXES_1 and nif[:2] not in _NIF_PREFIXES_2 and nif[0] != "8":
        return False
    total = sum(int(digit) * weight for digit, weight in zip(nif[:8], range(9, 1, -1), strict=True))
    check = 11 - total % 11
    return (0 if check >= 10 else check) == int(nif[8])
