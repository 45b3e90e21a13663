"""Regenerate the demo's bundled sample data in src/chatcustody/samples/.

``guard-team.jsonl`` holds the user's own cases: a delivery-delay complaint reconstructed
from the agent–rider chat, the customer's complaint and the late handling; an internal
investigation in the guard team's duty group; an English support channel.
``investigation.jsonl`` continues the investigation (with it, the duty group holds the
case's 23 key messages between 08:30 and 09:15) and adds everyday customer-service chat.
``operation-log.csv`` is the system operation log (the
``events`` format): the delivery system's delay alert at 14:40 and, on the investigation
morning, ordinary logins plus three abnormal ones. Run: python scripts/make_sample.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "src/chatcustody/samples"
OUT = SAMPLES / "guard-team.jsonl"
MORE = SAMPLES / "investigation.jsonl"
LOG = SAMPLES / "operation-log.csv"
lines: list[dict[str, Any]] = []


def msg(
    conv: tuple[str, str, str], mid: str, sender: tuple[str, str], ts: str, text: str, **kw: Any
) -> None:
    lines.append(
        {
            "platform": kw.pop("platform", "wecom"),
            "conversation_id": conv[0],
            "conversation_name": conv[1],
            "conversation_kind": conv[2],
            "message_id": mid,
            "sender_id": sender[0],
            "sender_name": sender[1],
            "timestamp": ts,
            "type": kw.pop("type", "text"),
            "text": text,
            "reply_to": kw.pop("reply_to", None),
            **kw,
        }
    )


agent, rider, customer = (
    ("kefu_a", "客服A（王敏）"),
    ("rider_b", "骑手B（李强）"),
    ("cust_c", "客户C"),
)
chat = ("wrOgQhDgAAdelivery0314", "客服A与骑手B-订单8842", "direct")
msg(
    chat,
    "d-1001",
    agent,
    "2026-03-14T14:20:05+08:00",
    "骑手您好，订单8842客户在催，请问现在到哪里了？",
)
msg(chat, "d-1002", rider, "2026-03-14T14:21:40+08:00", "在路上了，前面堵车，大概还要二十分钟 🚴")
msg(chat, "d-1003", agent, "2026-03-14T14:22:10+08:00", "好的，麻烦尽快，我先和客户解释一下。")
complaint = ("wrOgQhDgAAcustomerC", "客户C投诉", "direct")
msg(
    complaint,
    "d-2001",
    customer,
    "2026-03-14T14:35:12+08:00",
    "外卖已经超时四十分钟了！我要投诉，饭都凉了。",
)
msg(
    complaint, "d-2002", customer, "2026-03-14T14:35:40+08:00", "[图片]", type="image",
    attachments=[{"name": "超时截图.jpg", "mime": "image/jpeg", "included": False}],
)  # fmt: skip
msg(
    complaint,
    "d-2003",
    agent,
    "2026-03-14T16:41:03+08:00",
    "非常抱歉让您久等，我们已为您申请全额退款并赠送优惠券。",
)
msg(complaint, "d-2004", customer, "2026-03-14T16:45:20+08:00", "好吧，这次就算了，希望下次注意。")

duty = ("wrOgQhDgAAguardduty", "护卫队值班群", "group")
guards = [
    ("zhao_guard", "赵队长"),
    ("qian_guard", "钱勇"),
    ("sun_guard", "孙磊"),
    ("li_ops", "李四（运维）"),
]
texts = [
    "早班交接：B区监控正常，门禁系统无异常。",
    "收到，08:30开始巡逻。",
    "8號門的門禁卡讀卡器有點問題，誰能看一下？",
    "我来处理，先用临时卡。",
    "刚才机房有人用管理员账号登录了吗？系统提示异常登录。",
    "不是我，我一直在巡逻。",
    "我这边没有操作过。",
    "请把09:00前后的操作日志导出来，我要核对。",
    "Log exported: admin login from 10.2.3.4 at 08:47.",
    "这个IP是三楼财务室的终端。",
    "财务室今天早上有人吗？",
    "有，小周八点半就在。",
    "先别声张，保留记录，通知法务。",
    "已通知法务专员，等待调取申请单审批。",
    "收到👌",
    "注意：所有聊天记录不得删除，标记即可。",
]
for i, text in enumerate(texts):
    msg(
        duty,
        f"g-{3001 + i}",
        guards[i % 4],
        f"2026-03-20T08:{30 + i:02d}:{i * 7 % 60:02d}+08:00",
        text,
    )
msg(
    duty,
    "g-3020",
    guards[1],
    "2026-03-20T09:20:00+08:00",
    "钱勇撤回了一条消息",
    type="recall",
    target_id="g-3015",
)

slack = ("C024BE91L", "support-escalations", "channel")
alice, bob = ("U01AGENT", "Alice (Support)"), ("U02GUARD", "Bob (Guard Team)")
msg(slack, "1773471000.000100", alice, "2026-03-14T06:50:00+00:00",
    "Customer #8842 escalated a late-delivery complaint, can the guard team check CCTV at gate 3?",
    platform="slack")  # fmt: skip
msg(slack, "1773471060.000200", bob, "2026-03-14T06:51:00+00:00",
    "On it. 14:00–15:00 local footage is archived; I'll tag it.", platform="slack")  # fmt: skip
msg(slack, "1773471120.000300", alice, "2026-03-14T06:52:00+00:00",
    "Thanks! Ｆｕｌｌ－ｗｉｄｔｈ note: 订单号８８４２。", platform="slack")  # fmt: skip

with OUT.open("w", encoding="utf-8") as f:
    for line in lines:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(f"{len(lines)} messages → {OUT}")  # noqa: T201

# The investigation continues in the duty group: with these 7 the window 08:30–09:15 holds
# the case's 23 key messages (kept in their own file so guard-team.jsonl stays as it was).
lines.clear()
more = [
    "监控显示08:45有人进了财务室，穿着外包公司的工服。",
    "08:52和09:05又各有一次管理员登录，都是同一个终端。",
    "门禁记录：08:44刷的是临时卡，就是8号门那张。",
    "临时卡是我发的，登记在钱勇名下，我08:40交给了外包的人去修读卡器。",
    "所以时间对不上：卡08:44进门，第一次登录08:47，中间只有三分钟。",
    "把三次登录的时间和门禁记录、监控截图整理成一份，交法务。",
    "已整理，共23条关键消息、3处异常登录，时间线附后。",
]
for i, text in enumerate(more):
    msg(
        duty,
        f"g-{3031 + i}",
        guards[(i + 2) % 4],
        f"2026-03-20T{8 + (46 + i * 4) // 60:02d}:{(46 + i * 4) % 60:02d}:30+08:00",
        text,
    )

everyday = ("wrOgQhDgAAcsdaily", "客服组日常", "group")
desk = [("kefu_a", "客服A（王敏）"), ("kefu_d", "客服D（陈静）"), ("lead_k", "客服组长（刘洋）")]
daily = [
    "早上好，今天的工单已分配，重点跟进昨天的三单投诉。",
    "订单9021的客户要求改地址，已经联系骑手。",
    "The customer from order 9050 writes in English; I'll take it.",
    "好的，英文客户统一转给你。",
    "中午之前把退款申请都处理完。",
]
for i, text in enumerate(daily):
    msg(everyday, f"c-{4001 + i}", desk[i % 3], f"2026-03-18T09:{10 + i * 7:02d}:00+08:00", text)
with MORE.open("w", encoding="utf-8") as f:
    for line in lines:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(f"{len(lines)} messages → {MORE}")  # noqa: T201

LOG_ROWS = [
    (
        "2026-03-14 14:40:00",
        "订单系统",
        "system",
        "alert",
        "订单8842配送超时预警：超出承诺送达时间25分钟",
    ),
    ("2026-03-14 16:41:30", "订单系统", "kefu_a", "operation", "订单8842全额退款并发放优惠券"),
    (
        "2026-03-20 08:05:12",
        "门禁系统",
        "zhao_guard",
        "login",
        "值班账号登录（监控室终端 10.2.1.10）",
    ),
    (
        "2026-03-20 08:40:02",
        "门禁系统",
        "qian_guard",
        "operation",
        "临时卡T-08发放（登记人：钱勇）",
    ),
    ("2026-03-20 08:44:31", "门禁系统", "T-08", "access", "临时卡T-08刷卡进入三楼财务室"),
    (
        "2026-03-20 08:47:09",
        "堡垒机",
        "admin",
        "abnormal_login",
        "管理员账号admin从10.2.3.4（三楼财务室终端）登录：非运维终端",
    ),
    (
        "2026-03-20 08:52:40",
        "堡垒机",
        "admin",
        "abnormal_login",
        "管理员账号admin从10.2.3.4导出用户表（异常登录第二次）",
    ),
    (
        "2026-03-20 09:05:18",
        "堡垒机",
        "admin",
        "abnormal_login",
        "管理员账号admin从10.2.3.4登录并修改审计策略（异常登录第三次）",
    ),
    (
        "2026-03-20 09:12:00",
        "堡垒机",
        "li_ops",
        "login",
        "运维账号从运维终端10.2.1.20登录，冻结admin账号",
    ),
]
with LOG.open("w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["time", "source", "actor", "category", "event"])
    writer.writerows(LOG_ROWS)
print(f"{len(LOG_ROWS)} events → {LOG}")  # noqa: T201
