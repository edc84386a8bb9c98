"""VAT exemption reasons (códigos de motivo de isenção, reference/pt-invoicing-rules.md §2).

Every 0 % (``ISE``) line must carry one of these codes and print its legal basis. The texts below
are short legal bases; an integration may override them with the current AT table wording
(``exemption_laws`` in its mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_REVERSE_CHARGE = "IVA - autoliquidação"

DEFAULT_EXEMPTION_LAWS: Mapping[str, str] = MappingProxyType(
    {
        "M01": "Artigo 16.º, n.º 6 do CIVA",
        "M02": "Artigo 6.º do Decreto-Lei n.º 198/90, de 19 de junho",
        "M04": "Isento artigo 13.º do CIVA",
        "M05": "Isento artigo 14.º do CIVA",
        "M06": "Isento artigo 15.º do CIVA",
        "M07": "Isento artigo 9.º do CIVA",
        "M09": "IVA - não confere direito a dedução",
        "M10": "IVA - regime de isenção",
        "M11": "Regime particular do tabaco",
        "M12": "Regime da margem de lucro - Agências de viagens",
        "M13": "Regime da margem de lucro - Bens em segunda mão",
        "M14": "Regime da margem de lucro - Objetos de arte",
        "M15": "Regime da margem de lucro - Objetos de coleção e antiguidades",
        "M16": "Isento artigo 14.º do RITI",
        "M19": "Outras isenções",
        "M20": "IVA - regime forfetário (artigo 59.º-D do CIVA)",
        "M21": "IVA - não confere direito à dedução (artigo 72.º, n.º 4 do CIVA)",
        "M25": "Mercadorias à consignação",
        "M30": f"{_REVERSE_CHARGE} (artigo 2.º, n.º 1, alínea i) do CIVA)",
        "M31": f"{_REVERSE_CHARGE} (artigo 2.º, n.º 1, alínea j) do CIVA)",
        "M32": f"{_REVERSE_CHARGE} (artigo 2.º, n.º 1, alínea l) do CIVA)",
        "M33": f"{_REVERSE_CHARGE} (artigo 2.º, n.º 1, alínea m) do CIVA)",
        "M34": f"{_REVERSE_CHARGE} (artigo 2.º, n.º 1, alínea n) do CIVA)",
        "M40": f"{_REVERSE_CHARGE} (artigo 6.º, n.º 6, alínea a) do CIVA, a contrário)",
        "M41": f"{_REVERSE_CHARGE} (artigo 8.º, n.º 3 do RITI)",
        "M42": f"{_REVERSE_CHARGE} (Decreto-Lei n.º 21/2007, de 29 de janeiro)",
        "M43": f"{_REVERSE_CHARGE} (Decreto-Lei n.º 362/99, de 16 de setembro)",
        "M44": "Artigo 6.º do CIVA (operação localizada fora de Portugal)",
        "M45": "Artigo 58.º-A do CIVA (regime transfronteiriço de isenção)",
        "M46": "Decreto-Lei n.º 19/2017, de 14 de fevereiro (tax free)",
        "M99": "Não sujeito ou não tributado",
    }
)

VALID_EXEMPTION_CODES: frozenset[str] = frozenset(DEFAULT_EXEMPTION_LAWS)

# Codes that existed but may no longer be used on new documents.
REVOKED_EXEMPTION_CODES: Mapping[str, str] = MappingProxyType(
    {
        "M03": "revoked",
        "M08": "revoked (replaced by M30 to M43 since 2023)",
        "M26": "expired (the 'IVA zero' food basket ended in January 2024)",
    }
)

# Intra-EU supply of goods: exempt only towards a buyer with a valid EU VAT number.
INTRA_EU_EXEMPTION = "M16"


def exemption_problem(code: str) -> str | None:
    """Why ``code`` cannot be used on a new document, or None when it can."""
    if code in VALID_EXEMPTION_CODES:
        return None
    if code in REVOKED_EXEMPTION_CODES:
        return f"{code} is {REVOKED_EXEMPTION_CODES[code]} and cannot be used on new documents"
    return f"{code} is not an exemption code (expected M01 to M99 from the AT table, e.g. M07)"
