"""A small but real PDF of a document (one page, Helvetica, the number, date, total and ATCUD).

Vendus serves ``documents/{id}.pdf`` and, with ``output=pdf``, a base64 PDF in ``output``
(reference/vendus-api.md §2 and §3.3). Built by hand (PDF 1.4, one content stream, an exact
cross-reference table) so that any PDF reader opens it, without a rendering dependency.
"""

from __future__ import annotations


def _escape(text: str) -> str:
    ascii_text = text.encode("latin-1", "replace").decode("latin-1")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def document_pdf(doc: dict) -> bytes:
    lines = [f"{doc.get('type', '')} {doc.get('number', '')}", f"Data: {doc.get('date', '')}",
             f"Total: {doc.get('amount_gross', '')} EUR", f"ATCUD: {doc.get('atcud', '')}",
             "Documento simulado (simulador Vendus)"]
    text = "BT /F1 14 Tf 50 780 Td 18 TL " + " ".join(f"({_escape(line)}) '" for line in lines) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
