"""An integration's ``email`` section: how its documents reach the customer.

    email:
      by: service        # service (fetch the PDF, send it by SMTP) | vendus | off (the default)
      language: pt       # pt | en: the template used
      from: faturas@example.pt
      templates: {pt: {subject: "…{number}…", body: "…"}, en: {…}}   # optional overrides

``by: vendus`` asks Vendus to email the document itself: the document's ``client`` carries the
customer's ``email`` and ``send_email: "yes"`` (reference/vendus-api.md §3.3, client fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MODES = ("off", "service", "vendus")
LANGUAGES = ("pt", "en")

TEMPLATES = {
    "pt": {"subject": "{document_type} {number}",
           "body": "Olá {name},\n\nSegue em anexo o documento {number}, no valor de {amount} EUR.\n\n"
                   "Obrigado pela sua preferência.\n"},
    "en": {"subject": "{document_type} {number}",
           "body": "Hello {name},\n\nPlease find attached document {number}, for {amount} EUR.\n\n"
                   "Thank you for your custom.\n"},
}


@dataclass(frozen=True)
class EmailSettings:
    by: str = "off"
    language: str = "pt"
    sender: str | None = None
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def template(self, language: str | None = None) -> Mapping[str, str]:
        lang = language if language in LANGUAGES else self.language
        return {**TEMPLATES[lang], **(self.templates.get(lang) or {})}


def email_problems(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return ["email: must be a mapping with by, language, from and templates"]
    problems = [f"email.{k}: unknown key" for k in raw if k not in ("by", "language", "from", "templates")]
    if raw.get("by", "off") not in MODES:
        problems.append(f"email.by: must be one of {', '.join(MODES)}")
    if raw.get("language", "pt") not in LANGUAGES:
        problems.append(f"email.language: must be one of {', '.join(LANGUAGES)}")
    templates = raw.get("templates") or {}
    if not isinstance(templates, Mapping) or any(
            lang not in LANGUAGES or not isinstance(t, Mapping) or set(t) - {"subject", "body"}
            for lang, t in templates.items()):
        problems.append("email.templates: must map pt/en to {subject, body}")
    return problems


def email_settings(config: Mapping[str, Any] | None) -> EmailSettings:
    raw = (config or {}).get("email") or {}
    return EmailSettings(by=raw.get("by", "off"), language=raw.get("language", "pt"), sender=raw.get("from"),
                         templates=raw.get("templates") or {})
