"""``report.pdf``: the extraction record (电子数据提取报告) in Chinese and English.

Font: the report embeds (subset) a CJK TrueType font so that Chinese renders in any reader
on any machine: WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, Apache-2.0 or GPLv3
with font exception; Latin and CJK glyphs in one TrueType collection), which
``scripts/setup`` installs. Where no such file exists the report falls back to
reportlab's built-in Adobe CID font ``STSong-Light``: no font file needed, the text stays
exact and extractable, but it is not embedded, so the reader must supply an Adobe-GB1 font
(Acrobat and pdf.js do; Poppler without CJK fonts shows blanks). ``font_name()`` says which.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from chatcustody.model import iso

EMBEDDED_FONTS: Final[tuple[Path, ...]] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
CID_FONT: Final[str] = "STSong-Light"
MAX_LEAF_ROWS: Final[int] = 1000  # per-record leaf hashes listed in the PDF itself
_font_name: str | None = None


def font_name() -> str:
    """Register and return the report's font: an embedded CJK TrueType font if present."""
    global _font_name
    if _font_name is None:
        found = next((f for f in EMBEDDED_FONTS if f.is_file()), None)
        if found is not None:
            pdfmetrics.registerFont(TTFont("CJK", str(found), subfontIndex=0))
            _font_name = "CJK"
        else:
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
            _font_name = CID_FONT
    return _font_name


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font_name(), fontSize=9, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=6),
        "h": ParagraphStyle(
            "h", parent=base, fontSize=12, leading=17, spaceBefore=10, spaceAfter=4
        ),
        "p": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9),
    }


def _x(value: Any) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")
    )


def _utc(ms: Any) -> str:
    return iso(int(ms), 0) if isinstance(ms, int) else "—"


class _Report:
    def __init__(self) -> None:
        self.s = _styles()
        self.flow: list[Flowable] = []

    def h(self, text: str) -> None:
        self.flow.append(Paragraph(_x(text), self.s["h"]))

    def p(self, text: str, style: str = "p") -> None:
        self.flow.append(Paragraph(_x(text), self.s[style]))

    def table(
        self,
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float],
        small: bool = False,
        plain: bool = False,
    ) -> None:
        """Add a table; ``plain`` cells are unwrapped strings (fast for long hash lists)."""
        style = self.s["small" if small else "p"]
        data: list[list[Any]] = [
            [str(c) if plain else Paragraph(_x(c), style) for c in row] for row in rows
        ]
        t = Table(data, colWidths=list(widths), repeatRows=1)
        commands: list[Any] = [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if plain:
            commands += [
                ("FONT", (0, 0), (-1, -1), font_name(), 6.5),
                ("LEADING", (0, 0), (-1, -1), 8),
            ]
        t.setStyle(TableStyle(commands))
        self.flow.append(t)
        self.flow.append(Spacer(1, 4))


def report_pdf(facts: Mapping[str, Any]) -> bytes:
    """Return the PDF report for the package facts assembled by the writer."""
    r = _Report()
    req = facts["request"]
    mark = f"调取申请 Request {req['id']} · 接收方 Recipient {facts['recipient']}"
    r.flow.append(Paragraph("电子数据提取报告 Evidence extraction report", r.s["title"]))
    r.p(mark)
    r.p(f"生成时间 Created (UTC): {_utc(facts['created_ms'])}")

    r.h("一、调取申请 Request")
    r.table(
        [
            ["项目 Item", "内容 Value"],
            ["申请编号 Request id", req["id"]],
            ["申请人 Requester", req["requester"]],
            ["案件/事项 Case", req["case"]],
            ["法律依据 Legal basis", req["legal_basis"]],
            ["事由 Reason", req["reason"]],
            ["接收方 Recipient", facts["recipient"]],
            [
                "包含原始文件 Originals included",
                "是 yes" if facts["include_originals"] else "否 no",
            ],
        ],
        [45 * mm, 125 * mm],
    )
    r.h("二、审批记录 Approvals and history")
    rows: list[list[Any]] = [["时间 Time (UTC)", "人员 Actor", "操作 Action", "说明 Reason"]]
    rows += [[_utc(a["time_ms"]), a["actor"], a["action"], a["reason"]] for a in req["approvals"]]
    r.table(rows, [40 * mm, 35 * mm, 35 * mm, 60 * mm])
    r.h("三、调取范围 Scope (frozen at submission)")
    r.p(json.dumps(req["scope"], ensure_ascii=False, indent=1, sort_keys=True) or "{}", "small")

    r.h("四、数量 Counts")
    c = facts["counts"]
    r.table(
        [
            ["项目 Item", "数量 Count"],
            ["消息记录 Records", c["records"]],
            ["编辑/撤回 Amendments", c["amendments"]],
            ["原始文件 Originals (acquired sources)", c["sources"]],
            ["导出的原始文件 Originals exported", c["originals"]],
            ["附件 Attachments", c["attachments"]],
            ["隐去的字段 Withheld fields", c["withheld_fields"]],
        ],
        [90 * mm, 80 * mm],
    )
    head = facts["head"]
    r.h("五、签名树头 Signed tree head (RFC 9162)")
    r.table(
        [
            ["项目 Item", "值 Value"],
            ["树大小 Tree size", head["size"]],
            ["根哈希 Root (SHA-256)", head["root"]],
            ["时间 Time (UTC)", _utc(head["timestamp_ms"])],
            ["密钥 Key id", head["key_id"]],
            ["公钥指纹 Public key SHA-256", facts["key_fingerprint"]],
            ["库 Vault id", head["vault_id"]],
        ],
        [45 * mm, 125 * mm],
        small=True,
    )

    r.h("六、原始文件提取信息 Acquisition facts of each original")
    rows = [["来源 Source", "文件/格式 File / format", "哈希 SHA-256 / SM3", "提取 Acquired"]]
    for s in facts["sources"]:
        rows.append(
            [
                f"#{s['id']} {s.get('size', '')} B",
                f"{s.get('name') or '已隐去 withheld'} / {s.get('format', '')}",
                f"{s.get('sha256', '')}\n{s.get('sm3', '')}",
                f"{_utc(s.get('acquired_ms'))}\n{s.get('os_user', '')}@{s.get('host', '')}\n"
                f"{s.get('tool', '')} {s.get('tool_version', '')}\n{s.get('method', '')}",
            ]
        )
    r.table(rows, [22 * mm, 40 * mm, 60 * mm, 48 * mm], small=True)

    r.h("七、保管链 Chain of custody")
    rows = [
        ["时间 Time (UTC)", "环节 Event", "人员 Actor", "工具/主机 Tool / host", "说明 Details"]
    ]
    for e in facts["custody"]:
        rows.append(
            [
                _utc(e.get("time_ms")),
                e.get("event"),
                e.get("actor"),
                f"{e.get('tool') or ''} {e.get('tool_version') or ''}\n{e.get('host') or ''}",
                e.get("summary", ""),
            ]
        )
    r.table(rows, [32 * mm, 20 * mm, 30 * mm, 38 * mm, 50 * mm], small=True)

    env = facts["environment"]
    r.h("八、环境说明 Environment statement")
    check = facts["vault_check"]
    r.table(
        [
            ["项目 Item", "内容 Value"],
            ["软件 Software", f"{env['tool']} {env['tool_version']} (Python {env['python']})"],
            ["主机 Host", f"{env['host']} ({env['platform']})"],
            ["操作系统用户 OS user", env["os_user"]],
            ["时间来源 Time source", facts["time_source"]],
            [
                "导出时库的校验 Vault verify at export",
                f"{'通过 OK' if check['ok'] else '失败 FAILED'}; checked "
                + ", ".join(f"{k} {v}" for k, v in check["checked"].items())
                + (f"; failures {check['failure_count']}" if check["failure_count"] else ""),
            ],
        ],
        [45 * mm, 125 * mm],
    )

    r.h("九、哈希清单 Hash list (SHA-256)")
    r.p(
        "下列为包内文件（不含本报告与逐条证明文件）及逐条记录的叶哈希；"
        "完整清单见 SHA256SUMS 与 SM3SUMS。"
        " Files of the package (except this report and the per-item proof files) and the leaf "
        "hash of each record; SHA256SUMS and SM3SUMS list every file."
    )
    rows = [["文件 File", "SHA-256", "字节 Bytes"]]
    rows += [[f["path"], f["sha256"], f["size"]] for f in facts["files"]]
    r.table(rows, [55 * mm, 95 * mm, 20 * mm], small=True)
    leaves = facts["leaves"]
    rows = [["记录 Record", "叶序号 Leaf index", "叶哈希 Leaf hash"]]
    rows += [[f"#{x['id']}", x["leaf_index"], x["leaf_hash"]] for x in leaves[:MAX_LEAF_ROWS]]
    r.table(rows, [25 * mm, 30 * mm, 115 * mm], plain=True)
    if len(leaves) > MAX_LEAF_ROWS:
        r.p(
            f"… 另有 {len(leaves) - MAX_LEAF_ROWS} 条，见 proofs/records/。 "
            f"{len(leaves) - MAX_LEAF_ROWS} more in proofs/records/."
        )
    r.h("十、如何核验 How to verify")
    r.p(
        "见包内 VERIFY.md：sha256sum -c SHA256SUMS、openssl pkeyutl -verify、逐条包含证明。"
        " See VERIFY.md in the package: sha256sum -c SHA256SUMS, openssl pkeyutl -verify, and "
        "the inclusion proof of every item."
    )

    def decorate(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font_name(), 26)
        canvas.setFillColor(colors.Color(0.2, 0.2, 0.2, alpha=0.08))
        canvas.translate(A4[0] / 2, A4[1] / 2)
        canvas.rotate(35)
        for dy in (-220, 0, 220):
            canvas.drawCentredString(0, dy, mark)
        canvas.restoreState()
        canvas.saveState()
        canvas.setFont(font_name(), 7)
        canvas.drawString(15 * mm, 10 * mm, f"{mark} · 第 {doc.page} 页 page")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=f"Evidence report {req['id']}",
        author="chatcustody",
        invariant=1,
    )
    doc.build(r.flow, onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
