"""The PDF toolkit: one document style for every report Attest signs.

A report is built as a story of sections, paragraphs, requirement citations, tables and charts,
plus the Results whose Evidence it used. ``ReportBuilder.build()`` renders it with reportlab in
invariant mode: a cover with the document-control block, a table of contents, the body, and an
evidence-manifest appendix (every query with its parameters, row count, result hash and data
bound). Nothing in the PDF depends on the clock or the machine, so the same inputs give the same
bytes: the report id is derived from the manifest, and "as of" is the snapshot's publication time.
"""

from __future__ import annotations

import hashlib
import io
import json
import textwrap
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import altair as alt
import polars as pl
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import ActionFlowable, FrameBreak, NullActionFlowable
from reportlab.platypus.flowables import _listWrapOn
from reportlab.platypus.tableofcontents import TableOfContents

from analytics.result import Evidence, Finding, Result

FONTS = Path(__file__).parent / "fonts"
SANS, SANS_BOLD, SANS_ITALIC, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "Mono"
INK = colors.HexColor("#1d2733")
MUTED = colors.HexColor("#5b6573")
RULE = colors.HexColor("#c9d1db")
BAND = colors.HexColor("#f2f5f8")
PRIMARY = colors.HexColor("#1f5f8b")
SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#b26a00", "info": "#1f5f8b"}
PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
BODY_W = PAGE_W - 2 * MARGIN

# Where each cited requirement comes from (research spec §0.1): shown as a tag before the citation.
RequirementTag = Literal["LAW", "RULE", "STD", "PRACTICE", "DESIGN"]
TAG_MEANING = {
    "LAW": "statute or regulation text",
    "RULE": "agency rule or official guidance",
    "STD": "published standard or framework",
    "PRACTICE": "common audit or engineering practice",
    "DESIGN": "a design choice of this workbench",
}


@cache
def register_fonts() -> None:
    """Embed the bundled DejaVu fonts (wide Unicode coverage; identical on every machine)."""
    pdfmetrics.registerFont(TTFont(SANS, str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(SANS_BOLD, str(FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(TTFont(SANS_ITALIC, str(FONTS / "DejaVuSans-Oblique.ttf")))
    pdfmetrics.registerFont(TTFont(MONO, str(FONTS / "DejaVuSansMono.ttf")))
    pdfmetrics.registerFontFamily(
        SANS, normal=SANS, bold=SANS_BOLD, italic=SANS_ITALIC, boldItalic=SANS_BOLD
    )
    import vl_convert

    vl_convert.register_font_directory(str(FONTS))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=SANS, fontSize=9.5, leading=13.5, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10.5, textColor=MUTED),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.6),
        "cell_r": ParagraphStyle("cell_r", parent=base, fontSize=7.8, leading=9.6, alignment=TA_RIGHT),
        "head": ParagraphStyle(
            "head", parent=base, fontName=SANS_BOLD, fontSize=7.8, leading=9.6, textColor=INK
        ),
        "title": ParagraphStyle(
            "title", parent=base, fontName=SANS_BOLD, fontSize=21, leading=26, textColor=PRIMARY
        ),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=12, leading=16, textColor=MUTED),
        "h1": ParagraphStyle(
            "h1", parent=base, fontName=SANS_BOLD, fontSize=14, leading=18, spaceBefore=10,
            spaceAfter=6, textColor=PRIMARY,
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontName=SANS_BOLD, fontSize=11, leading=14, spaceBefore=8,
            spaceAfter=4,
        ),
        "caption": ParagraphStyle(
            "caption", parent=base, fontName=SANS_ITALIC, fontSize=7.8, leading=10,
            textColor=MUTED, spaceBefore=2, spaceAfter=8,
        ),
        "mono": ParagraphStyle("mono", parent=base, fontName=MONO, fontSize=6.4, leading=7.8),
        "toc1": ParagraphStyle("toc1", parent=base, fontSize=10, leading=15, leftIndent=0),
        "toc2": ParagraphStyle("toc2", parent=base, fontSize=9, leading=13, leftIndent=14, textColor=MUTED),
        "banner": ParagraphStyle(
            "banner", parent=base, fontName=SANS_BOLD, fontSize=9, leading=12, alignment=TA_LEFT
        ),
    }  # fmt: skip


def text(value: Any) -> str:
    """Markup-safe text for a Paragraph (reportlab parses a small XML dialect)."""
    return escape("" if value is None else str(value))


# ------------------------------------------------------------------------------ the manifest


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class DocumentControl:
    """The cover's document-control block (research spec §1.1); everything but the id is given."""

    report_type: str  # e.g. "POST-INCIDENT REVIEW"
    template_version: str  # e.g. "PIR v1.0" (the template, not the report)
    title: str
    subtitle: str
    entity: str
    systems: tuple[str, ...]
    period: str  # "2026-06-30 00:00Z – 2026-07-07 00:00Z (start inclusive, end exclusive)"
    as_of_batch: int
    data_cutoff: str  # RFC 3339 commit time of the bounding batch
    code_version: str
    prepared_by: str
    status: str = "draft"
    report_version: int = 1
    supersedes: str | None = None
    classification: str = "Confidential: prepared for internal and external audit use"
    disclaimer: str = (
        "Prepared by management from the Attest warehouse. Not an auditor's opinion and not "
        "legal advice."
    )

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class BuiltReport:
    """A rendered report: the PDF bytes and the manifest it ends with."""

    pdf: bytes
    manifest: dict[str, Any]
    report_id: str
    manifest_sha256: str
    pages: int

    @property
    def pdf_sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()

    def manifest_json(self) -> str:
        return json.dumps(self.manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def report_id_for(manifest_sha256: str) -> str:
    """A content-derived report id: a UUID (version 8, RFC 9562) from the manifest hash."""
    raw = bytearray(bytes.fromhex(manifest_sha256)[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


# ------------------------------------------------------------------------------ page furniture


class _Canvas(rl_canvas.Canvas):
    """Defers drawing the footer until the page count is known ("page X of Y")."""

    footer_left = ""
    header_text = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["invariant"] = 1
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._furniture(total)
            super().showPage()
        super().save()

    def _furniture(self, total: int) -> None:
        page = self._pageNumber
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(MARGIN, 14 * mm, PAGE_W - MARGIN, 14 * mm)
        self.setFont(SANS, 7)
        self.setFillColor(MUTED)
        self.drawString(MARGIN, 10 * mm, self.footer_left)
        self.drawRightString(PAGE_W - MARGIN, 10 * mm, f"page {page} of {total}")
        if page > 1:
            self.line(MARGIN, PAGE_H - 12 * mm, PAGE_W - MARGIN, PAGE_H - 12 * mm)
            self.drawString(MARGIN, PAGE_H - 10.5 * mm, self.header_text)
        self.restoreState()


class _Doc(BaseDocTemplate):
    def __init__(self, buf: io.BytesIO, control: DocumentControl, keywords: str) -> None:
        super().__init__(
            buf,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=18 * mm,
            bottomMargin=20 * mm,
            title=control.title,
            author=f"{control.entity} (prepared with Attest {control.code_version})",
            subject=f"{control.template_version} · {control.period}",
            keywords=keywords,
            creator="Attest",
            producer="Attest (reportlab, invariant mode)",
            invariant=1,
        )
        frame = Frame(MARGIN, 20 * mm, BODY_W, PAGE_H - 38 * mm, id="body", showBoundary=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame])])

    def afterFlowable(self, flowable: Flowable) -> None:
        level = getattr(flowable, "toc_level", None)
        if level is not None:
            key = flowable.toc_key
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)
            self.notify("TOCEntry", (level, flowable.getPlainText(), self.page, key))


# ------------------------------------------------------------------------------ the builder


@dataclass(frozen=True)
class _Deferred:
    """A story item that needs the manifest's query ids (known only at build time)."""

    make: Any  # Callable[[dict[str, str]], Flowable]


@dataclass
class ReportBuilder:
    """Collects a report's content and evidence, then renders it (see module docstring)."""

    control: DocumentControl
    parameters: dict[str, tuple[Any, RequirementTag, str]] = field(default_factory=dict)
    _story: list[Any] = field(default_factory=list)
    _evidence: list[Evidence] = field(default_factory=list)
    _figures: list[dict[str, Any]] = field(default_factory=list)
    _headings: int = 0

    def __post_init__(self) -> None:
        register_fonts()
        self.styles = _styles()

    # ----- content -------------------------------------------------------------------------
    def section(self, title: str, level: int = 1) -> None:
        """A numbered heading that appears in the table of contents and the PDF outline."""
        style = self.styles["h1" if level == 1 else "h2"]
        para = Paragraph(text(title), style)
        self._headings += 1
        para.toc_level = level - 1  # type: ignore[attr-defined]
        para.toc_key = f"h{self._headings}"  # type: ignore[attr-defined]
        if level == 1:
            self._story.append(CondPageBreak(60 * mm))
        self._story.append(para)

    def paragraph(self, body: str, *, markup: bool = False, style: str = "body") -> None:
        """A paragraph; ``markup=True`` passes reportlab's inline tags (<b>, <i>) through."""
        self._story.append(Paragraph(body if markup else text(body), self.styles[style]))
        self._story.append(Spacer(1, 4))

    def requirement(self, tag: RequirementTag, citation: str, body: str) -> None:
        """A cited requirement with its provenance tag, e.g. [LAW] 29 CFR 1607.4(D)."""
        if tag not in TAG_MEANING:
            raise ValueError(f"unknown requirement tag {tag!r}; use one of {sorted(TAG_MEANING)}")
        self._story.append(
            Paragraph(
                f'<font name="{SANS_BOLD}" color="#1f5f8b">[{tag}]</font> '
                f"<b>{text(citation)}</b>: {text(body)}",
                self.styles["body"],
            )
        )
        self._story.append(Spacer(1, 4))

    def parameter(self, name: str, value: Any, tag: RequirementTag, why: str) -> None:
        """A threshold or setting the report relies on; listed in the manifest with its tag."""
        if tag not in TAG_MEANING:
            raise ValueError(f"unknown requirement tag {tag!r}")
        self.parameters[name] = (value, tag, why)

    def key_values(
        self, rows: Sequence[tuple[str, Any]], *, widths: tuple[float, float] = (0.3, 0.7)
    ) -> None:
        """A two-column label/value block."""
        data = [
            [Paragraph(text(k), self.styles["head"]), Paragraph(text(v), self.styles["cell"])]
            for k, v in rows
        ]
        table = Table(data, colWidths=[BODY_W * widths[0], BODY_W * widths[1]], hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                    ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ]
            )
        )
        self._story += [table, Spacer(1, 8)]

    def table(
        self,
        frame: pl.DataFrame,
        *,
        caption: str,
        headers: dict[str, str] | None = None,
        widths: Sequence[float] | None = None,
        numeric: Iterable[str] = (),
        evidence: str | None = None,
        highlight: str | None = None,
    ) -> None:
        """A data table that splits across pages with its header repeated.

        Cells are shown as given (format numbers before); ``numeric`` columns are right-aligned;
        ``highlight`` names a boolean column whose true rows are tinted (it is not printed).
        ``evidence`` names the Evidence (query name) the rows come from; the caption cites it.
        """
        headers = headers or {}
        shown = [c for c in frame.columns if c != highlight]
        right = set(numeric)
        head = [Paragraph(text(headers.get(c, c)), self.styles["head"]) for c in shown]
        body = []
        for row in frame.select(shown).iter_rows():
            body.append(
                [
                    Paragraph(
                        text("–" if v is None else v),
                        self.styles["cell_r" if c in right else "cell"],
                    )
                    for c, v in zip(shown, row, strict=True)
                ]
            )
        if widths is None:
            col_w = [BODY_W / len(shown)] * len(shown)
        else:
            total = sum(widths)
            col_w = [BODY_W * w / total for w in widths]
        table = Table([head, *body], colWidths=col_w, repeatRows=1, hAlign="LEFT")
        style = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), BAND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if highlight is not None:
            for i, flag in enumerate(frame[highlight].to_list(), start=1):
                if flag:
                    style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#fdecea")))
        table.setStyle(TableStyle(style))
        if not body:
            self.paragraph("No rows.", style="small")
            self._caption(caption, evidence)
        else:
            self._story.append(
                _Deferred(
                    lambda ids: _Captioned(table, self._caption_flowable(caption, evidence, ids))
                )
            )

    def chart(self, chart: alt.TopLevelMixin, *, caption: str, evidence: str | None = None) -> None:
        """An Altair chart from the shared builders, rendered to PNG with vl-convert."""
        import vl_convert

        spec = chart.to_dict()
        config = spec.setdefault("config", {})
        config["font"] = "DejaVu Sans"
        png = vl_convert.vegalite_to_png(spec, scale=2.5)
        w_px, h_px = _png_size(png)
        width = min(BODY_W, w_px / 2.5 * 0.75)
        height = width * h_px / w_px
        self._figures.append(
            {
                "caption": caption,
                "evidence": evidence,
                "png_sha256": hashlib.sha256(png).hexdigest(),
            }
        )
        image = Image(io.BytesIO(png), width=width, height=height, hAlign="LEFT")
        self._story.append(
            _Deferred(
                lambda ids: KeepTogether([image, self._caption_flowable(caption, evidence, ids)])
            )
        )

    def findings(self, items: Sequence[Finding]) -> None:
        """Findings as a list, most severe first, coloured by severity."""
        order = {"critical": 0, "warning": 1, "info": 2}
        if not items:
            self.paragraph("No findings.", style="small")
            return
        for f in sorted(items, key=lambda f: order.get(f.severity, 3)):
            colour = SEVERITY_COLOURS.get(f.severity, "#1d2733")
            self._story.append(
                Paragraph(
                    f'<font name="{SANS_BOLD}" color="{colour}">{text(f.severity.upper())}</font>'
                    f"  {text(f.message)}",
                    self.styles["body"],
                )
            )
            self._story.append(Spacer(1, 3))
        self._story.append(Spacer(1, 5))

    def page_break(self) -> None:
        self._story.append(PageBreak())

    def evidence(self, result: Result) -> None:
        """Adds a Result's queries to the manifest (call for every Result the report prints)."""
        self._evidence.extend(result.evidence)

    # ----- rendering -----------------------------------------------------------------------
    def manifest(self, *, software: dict[str, str], chain: dict[str, Any] | None) -> dict[str, Any]:
        """The evidence manifest (research spec §1.2) minus the output hash, which signs it."""
        queries = []
        for i, e in enumerate(self._evidence, start=1):
            item = e.to_dict()
            item["id"] = f"Q{i}"
            # The bound, not the snapshot file, identifies the data: a later snapshot gives the
            # same rows for the same bound, and the same report.
            item.pop("snapshot_id", None)
            item["sql_sha256"] = hashlib.sha256(e.sql.encode()).hexdigest()
            queries.append(item)
        return {
            "format": "attest-manifest/1",
            "document_control": self.control.to_dict(),
            "queries": queries,
            "figures": self._figures,
            "parameters": {
                k: {"value": v, "tag": t, "why": w}
                for k, (v, t, w) in sorted(self.parameters.items())
            },
            "data_snapshot": {
                "as_of_batch": self.control.as_of_batch,
                "bounding_batch_committed_at": self.control.data_cutoff,
            },
            "hash_chain_verification": chain,
            "software": software,
        }

    def build(
        self, *, software: dict[str, str], chain: dict[str, Any] | None = None
    ) -> BuiltReport:
        """Render: cover, contents, body, manifest appendix. Deterministic for equal inputs."""
        manifest = self.manifest(software=software, chain=chain)
        manifest_sha = hashlib.sha256(canonical_json(manifest).encode()).hexdigest()
        report_id = report_id_for(manifest_sha)
        ids: dict[str, str] = {}
        for q in manifest["queries"]:
            ids.setdefault(q["name"], q["id"])
        body = [item.make(ids) if isinstance(item, _Deferred) else item for item in self._story]
        story = [
            *self._cover(report_id, manifest_sha, chain),
            *self._contents(),
            *_keep_headings([*body, *self._appendix(manifest)]),
        ]
        buf = io.BytesIO()
        keywords = f"report_id={report_id}; manifest_sha256={manifest_sha}"
        doc = _Doc(buf, self.control, keywords)
        canvas_cls = type(
            "_ReportCanvas",
            (_Canvas,),
            {
                "footer_left": (
                    f"{self.control.template_version} · report {report_id} · "
                    f"v{self.control.report_version} · manifest {manifest_sha[:16]}"
                ),
                "header_text": f"{self.control.title} · {self.control.period}",
            },
        )
        doc.multiBuild(story, canvasmaker=canvas_cls)
        pdf = buf.getvalue()
        return BuiltReport(
            pdf=pdf,
            manifest=manifest,
            report_id=report_id,
            manifest_sha256=manifest_sha,
            pages=_page_count(pdf),
        )

    # ----- parts ---------------------------------------------------------------------------
    def _caption_flowable(
        self, caption: str, evidence: str | None, ids: dict[str, str]
    ) -> Paragraph:
        body = text(caption.rstrip())
        if body and not body.endswith((".", "?", "!")):
            body += "."
        if evidence:
            if evidence not in ids:
                raise ValueError(
                    f"caption cites query {evidence!r}, which no Result given to evidence() ran"
                )
            body += f" Source: {ids[evidence]} ({text(evidence)}) in the evidence manifest."
        return Paragraph(body, self.styles["caption"])

    def _caption(self, caption: str, evidence: str | None) -> None:
        self._story.append(_Deferred(lambda ids: self._caption_flowable(caption, evidence, ids)))

    def _cover(self, report_id: str, manifest_sha: str, chain: dict[str, Any] | None) -> list[Any]:
        c, s = self.control, self.styles
        out: list[Any] = [
            Paragraph(text(c.report_type), s["small"]),
            Spacer(1, 6),
            Paragraph(text(c.title), s["title"]),
            Spacer(1, 4),
            Paragraph(text(c.subtitle), s["subtitle"]),
            Spacer(1, 14),
        ]
        if chain is not None:
            ok = bool(chain.get("ok"))
            colour = "#2e7d32" if ok else "#c62828"
            words = chain.get("summary") or ("verified" if ok else "FAILED verification")
            white = ParagraphStyle("banner_white", parent=s["banner"], textColor=colors.white)
            banner = Table(
                [[Paragraph(f"Audit-log hash chain: {text(words)}", white)]],
                colWidths=[BODY_W],
            )
            banner.setStyle(
                TableStyle(
                    [
                        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(colour)),
                        ("TOPPADDING", (0, 0), (-1, -1), 5),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                    ]
                )
            )
            out += [banner, Spacer(1, 10)]
        rows = [
            ("Report type / template", f"{c.report_type} · template {c.template_version}"),
            ("Report id", report_id),
            ("Version, status", f"{c.report_version}, {c.status}"),
            ("Supersedes", c.supersedes or "none (first version)"),
            ("Entity", c.entity),
            ("Systems in scope", ", ".join(c.systems) or "none"),
            ("Period covered", c.period),
            (
                "Data bound",
                f"warehouse batches ≤ {c.as_of_batch} (the last of them committed {c.data_cutoff})",
            ),
            ("Generated by", f"Attest {c.code_version}, run by {c.prepared_by}"),
            (
                "Reviewer / approver",
                "to be completed by the approver (not part of the signed draft)",
            ),
            ("Evidence manifest SHA-256", manifest_sha),
            ("Classification", c.classification),
            ("Disclaimer", c.disclaimer),
        ]
        title = Paragraph("Document control", s["h2"])
        out.append(title)
        table = Table(
            [[Paragraph(text(k), s["head"]), Paragraph(text(v), s["cell"])] for k, v in rows],
            colWidths=[BODY_W * 0.28, BODY_W * 0.72],
        )
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BOX", (0, 0), (-1, -1), 0.6, INK),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                    ("BACKGROUND", (0, 0), (0, -1), BAND),
                    ("TOPPADDING", (0, 0), (-1, -1), 3),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        out += [table, Spacer(1, 10)]
        out.append(
            Paragraph(
                "Requirement tags: "
                + "; ".join(f"[{k}] {v}" for k, v in TAG_MEANING.items())
                + ". Every figure's query, parameters and result hash are listed in the evidence "
                "manifest appendix; the detached signature file covers this PDF and that manifest.",
                s["small"],
            )
        )
        out.append(PageBreak())
        return out

    def _contents(self) -> list[Any]:
        toc = TableOfContents()
        toc.levelStyles = [self.styles["toc1"], self.styles["toc2"]]
        toc.dotsMinLevel = 0
        return [Paragraph("Contents", self.styles["h1"]), toc, PageBreak()]

    def _appendix(self, manifest: dict[str, Any]) -> list[Any]:
        s = self.styles
        out: list[Any] = [PageBreak()]
        heading = Paragraph("Appendix: evidence manifest", s["h1"])
        self._headings += 1
        heading.toc_level = 0  # type: ignore[attr-defined]
        heading.toc_key = f"h{self._headings}"  # type: ignore[attr-defined]
        out += [
            heading,
            Paragraph(
                "Every query behind a figure of this report, run read-only on the snapshot named "
                "on the cover. Re-running a query with its parameters on that snapshot must give "
                "the same row count and result hash (SHA-256 of the canonical CSV: rows sorted, "
                "floats to 12 digits). The same manifest is delivered as JSON next to the PDF.",
                s["body"],
            ),
            Spacer(1, 6),
        ]
        params = manifest["parameters"]
        if params:
            rows = [
                [
                    Paragraph(text(k), s["cell"]),
                    Paragraph(text(v["value"]), s["cell"]),
                    Paragraph(text(f"[{v['tag']}]"), s["cell"]),
                    Paragraph(text(v["why"]), s["cell"]),
                ]
                for k, v in params.items()
            ]
            head = [Paragraph(h, s["head"]) for h in ("Parameter", "Value", "Tag", "Basis")]
            t = Table(
                [head, *rows], colWidths=[BODY_W * w for w in (0.22, 0.14, 0.1, 0.54)], repeatRows=1
            )
            t.setStyle(_grid_style())
            out += [Paragraph("Parameters", s["h2"]), t, Spacer(1, 8)]
        software = manifest["software"]
        out += [
            Paragraph("Software", s["h2"]),
            Paragraph(text(", ".join(f"{k} {v}" for k, v in sorted(software.items()))), s["cell"]),
            Spacer(1, 8),
            Paragraph("Queries", s["h2"]),
        ]
        head = [Paragraph(h, s["head"]) for h in ("Id", "Query", "Rows", "Result SHA-256", "Bound")]
        rows = [
            [
                Paragraph(q["id"], s["cell"]),
                Paragraph(text(q["name"]), s["cell"]),
                Paragraph(f"{q['row_count']:,}", s["cell_r"]),
                Paragraph(q["result_sha256"], s["mono"]),
                Paragraph(text(f"batch ≤ {q['as_of_batch']}"), s["cell"]),
            ]
            for q in manifest["queries"]
        ]
        t = Table(
            [head, *rows],
            colWidths=[BODY_W * w for w in (0.06, 0.3, 0.08, 0.42, 0.14)],
            repeatRows=1,
        )
        t.setStyle(_grid_style())
        out += [t, Spacer(1, 10)]
        for q in manifest["queries"]:
            params_text = ", ".join(f"{k} = {v}" for k, v in sorted(q["params"].items())) or "none"
            sql = "\n".join(
                textwrap.fill(line, 120, subsequent_indent="    ", drop_whitespace=False) or line
                for line in q["sql"].splitlines()
            )
            out += [
                Paragraph(
                    f"<b>{q['id']}</b> · {text(q['name'])} · parameters: {text(params_text)}",
                    s["cell"],
                ),
                Preformatted(sql, s["mono"]),
                Spacer(1, 6),
            ]
        return out


# ------------------------------------------------------------------------------ keep together
#
# A heading never ends a page without the start of what follows it, and a table caption never
# starts a page without the end of its table. Both only move content when that would happen:
# otherwise they hand their flowables back to the frame unchanged (same positions, same output).


def _is_heading(f: Any) -> bool:
    return isinstance(f, Paragraph) and f.style.name in ("h1", "h2")


def _can_start(f: Flowable, canv: Any, width: float, height: float) -> bool:
    """Whether f, or the first part of it, fits in ``height``."""
    if height <= 0:
        return False
    _w, h = f.wrapOn(canv, width, height)
    if h <= height + 1e-6:
        return True
    parts = f.splitOn(canv, width, height)
    return bool(parts) and not (
        isinstance(parts[0], ActionFlowable) and not isinstance(parts[0], NullActionFlowable)
    )


class _KeepHeadings(KeepTogether):
    """Headings with the flowable after them: a page break before the headings only when the
    start of that flowable (a table's header and first row, two lines of a paragraph) would not
    fit after them. Unlike KeepTogether, a long table still starts on the current page."""

    def split(self, aW: float, aH: float) -> list[Flowable]:
        *heads, tail = self._content
        frame = getattr(self, "_frame", None)
        at_top = bool(getattr(frame, "_atTop", False))
        _w, h = _listWrapOn(heads, aW, self.canv)
        room = aH - h - max(tail.getSpaceBefore(), heads[-1].getSpaceAfter())
        fits = at_top or _can_start(tail, self.canv, aW, room)
        return [NullActionFlowable() if fits else FrameBreak(), *self._content]


def _keep_headings(story: list[Any]) -> list[Any]:
    """Groups each run of headings with the flowable that follows it (see _KeepHeadings)."""
    out: list[Any] = []
    i = 0
    while i < len(story):
        j = i
        while j < len(story) and _is_heading(story[j]):
            j += 1
        nxt = story[j] if j < len(story) else None
        if (
            j > i
            and nxt is not None
            and not isinstance(nxt, ActionFlowable | CondPageBreak | Spacer)
        ):
            out.append(_KeepHeadings([*story[i:j], nxt]))
            i = j + 1
        elif j > i:
            out += story[i:j]
            i = j
        else:
            out.append(story[i])
            i += 1
    return out


class _Captioned(Flowable):
    """A table and the caption under it. Placed as two flowables when both fit; otherwise the
    table is split so that its last part carries the caption (never a caption alone atop a
    page)."""

    def __init__(self, table: Flowable, caption: Paragraph) -> None:
        super().__init__()
        self._table = table
        self._caption = caption

    def getSpaceBefore(self) -> float:
        return self._table.getSpaceBefore()

    def getSpaceAfter(self) -> float:
        return self._caption.getSpaceAfter()

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:
        return aW, 0xFFFFFF  # always split: the frame places the parts

    def split(self, aW: float, aH: float) -> list[Flowable]:
        table, caption = self._table, self._caption
        _w, h = _listWrapOn([table, caption], aW, self.canv)
        frame = getattr(self, "_frame", None)
        at_top = bool(getattr(frame, "_atTop", False))
        if h <= aH + 1e-6:
            return [NullActionFlowable(), table, caption]
        _cw, ch = caption.wrapOn(self.canv, aW, aH)
        room = aH - ch - max(caption.getSpaceBefore(), table.getSpaceAfter())
        parts = table.splitOn(self.canv, aW, room) if room > 0 else []
        if len(parts) >= 2:
            return [*parts[:-1], _Captioned(parts[-1], caption)]
        if at_top:  # cannot do better than the plain layout
            return [NullActionFlowable(), table, caption]
        return [FrameBreak(), _Captioned(table, caption)]


def _grid_style() -> TableStyle:
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), BAND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
    )


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("vl-convert did not return a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


__all__ = [
    "TAG_MEANING",
    "BuiltReport",
    "DocumentControl",
    "ReportBuilder",
    "canonical_json",
    "register_fonts",
    "report_id_for",
    "text",
]
