"""A model card as Markdown or HTML. Record text (run names, reasons, tags) is data: it is escaped in both, so a
run named `<script>...` shows as those characters and a reason cannot add Markdown links or headings."""

from __future__ import annotations

import html as _html
import re

from .schemas import CardCitation, ModelCard

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")  # what can start markup anywhere in a line

INTRO = ("Generated from the platform's records at {at}. Every statement cites the record it comes from "
         "(the citations the assistant uses); what the records do not say is marked as not stated.")


def _md(text: str) -> str:
    """Plain text as Markdown that renders as the same text: punctuation escaped, one line."""
    flat = " ".join(str(text).split())
    out = _MD_SPECIAL.sub(r"\\\1", flat)
    return ("\\" + out) if out[:1] in ("-", "=", "+", "#") else out  # what starts markup at a line's start


def cite_text(c: CardCitation) -> str:
    extra = f" event {c.event}" if c.event is not None else f" {c.file}" if c.file else ""
    return f"{c.type} {c.id}{extra}"


def markdown(card: ModelCard) -> str:
    lines = [f"# Model card: {_md(card.model)} version {card.version}", "",
             f"Project {_md(card.project)}. " + _md(INTRO.format(at=card.generated_at)), ""]
    for s in card.sections:
        lines += [f"## {_md(s.title)}", ""]
        for st in s.statements:
            cites = " ".join(f"`{cite_text(c).replace('`', '')}`" for c in st.citations)  # ids: no markup
            lines.append(f"- {_md(st.text)} {cites}")
        lines.append("")
    return "\n".join(lines)


CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;line-height:1.45;
color:#1b1b1b}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
li{margin:.25rem 0}.cite{display:inline-block;font-size:.75rem;background:#eef3f8;border:1px solid #c9d6e3;
border-radius:.6rem;padding:0 .45rem;margin-left:.3rem;color:#24415f;white-space:nowrap}.intro{color:#555}"""


def html(card: ModelCard) -> str:
    e = _html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Model card: {e(card.model)} v{card.version}</title><style>{CSS}</style></head><body>",
           f'<h1>Model card: {e(card.model)} version {card.version}</h1>',
           f'<p class="intro">Project {e(card.project)}. {e(INTRO.format(at=card.generated_at))}</p>']
    for s in card.sections:
        out.append(f'<section data-section="{e(s.id)}"><h2>{e(s.title)}</h2><ul>')
        for st in s.statements:
            cites = "".join(f'<span class="cite" data-type="{e(c.type)}" data-id="{e(c.id)}">{e(cite_text(c))}'
                            "</span>" for c in st.citations)
            out.append(f"<li>{e(st.text)}{cites}</li>")
        out.append("</ul></section>")
    out.append("</body></html>")
    return "\n".join(out)
