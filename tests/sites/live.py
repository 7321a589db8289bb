"""The sandbox livestream rooms: /live/room/<id> pages fed by /live/ws/<id> on a scripted, looping timeline.

Every event is a JSON text frame ``{"type", "t", "seq", "loop", ...fields}`` where ``type`` is one of
``title``, ``pinned``, ``product_card`` and ``chat``, and ``t`` is the scripted time in seconds since the
connection opened (it keeps growing across loops). Query parameters on the socket URL:
``speed`` (time factor, default 1; tests use e.g. 20) and ``loops`` (close after N loops; default 0 = forever).
The room page passes its own query string on to the socket, so ``/live/room/1001?speed=5`` works too.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

Event = dict[str, Any]


def _card(sku: str, name: str, price: float, ref: float, ref_label: str, sales: str, tag: str = "") -> Event:
    return {
        "type": "product_card",
        "sku": sku,
        "name": name,
        "price_label": "直播价",
        "price": f"{price:.2f}",
        "ref_label": ref_label,
        "ref_price": f"{ref:.2f}",
        "sales": sales,
        "tag": tag,
    }


def _chat(user: str, text: str, role: str = "viewer") -> Event:
    return {"type": "chat", "user": user, "role": role, "text": text}


ROOMS: dict[str, dict[str, Any]] = {
    "1001": {
        "name": "湘妹子好物直播间",
        "host": "湘妹子小美",
        "duration": 5.0,
        "script": [
            (0.0, {"type": "title", "text": "湘妹子好物直播间｜全网最低价 今晚限时秒杀"}),
            (0.4, {"type": "pinned", "text": "加我微信私下交易更便宜，微信号：xmz8866"}),
            (0.8, _card("A01", "深海鱼油软胶囊 100粒", 59.9, 399, "原价", "已售10万件", "限时秒杀")),
            (1.2, _chat("湘妹子小美", "家人们，这款鱼油全网最低价，仅限今天这个价！", "host")),
            (1.5, _chat("小雨点", "主播好，第一次来直播间")),
            (1.9, _chat("湘妹子小美", "我妈吃了三个月，吃了能治糖尿病，血糖都降下来了", "host")),
            (2.3, _chat("开心果", "多少钱一瓶？")),
            (2.6, _chat("场控阿杰", "最后三分钟！库存只剩最后50单！", "assistant")),
            (3.0, _card("A02", "纳豆红曲胶囊 60粒", 99, 698, "原价", "已售52万件", "今日爆款")),
            (3.4, _chat("老王", "已拍，什么时候发货")),
            (3.8, _chat("湘妹子小美", "不想在平台下单的家人，加我微信私下交易更便宜", "host")),
            (4.2, _chat("小雨点", "最近直播间活动真多")),
            (4.6, {"type": "pinned", "text": "仅限今天！下播立即恢复原价399元"}),
        ],
    },
    "2002": {
        "name": "星禾助农直播间",
        "host": "星禾阿青",
        "duration": 5.0,
        "script": [
            (0.0, {"type": "title", "text": "星禾助农直播间｜安化红茶产地直发"}),
            (0.4, {"type": "pinned", "text": "理性消费，请通过直播间购物车下单，支持七天无理由退货（拆封食品除外）"}),
            (0.8, _card("B01", "湖红工夫红茶 特级 250g", 148, 168, "日常价", "本场已售126件")),
            (1.2, _chat("星禾阿青", "大家好，第一次来直播间的朋友可以先点个关注", "host")),
            (1.6, _chat("茶友老周", "红茶怎么泡？")),
            (2.0, _chat("星禾阿青", "水温90度左右，第一泡10秒左右出汤，最佳赏味期是开封后30天", "host")),
            (2.4, _chat("茶友老周", "最近喝了一罐，味道不错")),
            (2.8, _chat("星禾阿青", "茶叶是普通食品，不能治疗疾病，身体不舒服请及时就医", "host")),
            (3.2, _card("B02", "每日坚果礼盒 750g", 85, 89, "日常价", "本场已售58件")),
            (3.6, _chat("小鹿", "支持七天无理由退货吗")),
            (4.0, _chat("星禾阿青", "未拆封的支持七天无理由退货，退货运费我们出", "host")),
            (4.4, _chat("场控小林", "红茶特级是按国家标准评定的等级，大家放心", "assistant")),
        ],
    },
}


def room_events(room_id: str) -> list[Event]:
    """One loop of a room's timeline as sent on the socket (loop 0, without ``seq``)."""
    room = ROOMS[room_id]
    return [{"type": ev["type"], "t": t, **{k: v for k, v in ev.items() if k != "type"}} for t, ev in room["script"]]


PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>直播间 {room_id} - 好物直播</title>
<link rel="stylesheet" href="/static/site.css">
<style>
  .room {{ display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; }}
  .stage {{ background: #111; color: #fff; min-height: 240px; padding: 1rem; }}
  .product-card {{ border: 1px solid #eee; padding: .5rem; margin: .5rem 0; background: #fff; color: #222; }}
  .product-card .price {{ color: #c8102e; font-weight: bold; }}
  .pinned {{ background: #fff6e0; padding: .3rem .6rem; }}
  .chat-list {{ height: 320px; overflow-y: auto; border: 1px solid #ddd; padding: .5rem; }}
  .chat-user {{ color: #888; margin-right: .4rem; }}
</style>
</head>
<body>
<main class="room" data-room="{room_id}">
  <section class="stage">
    <h1 class="room-title"></h1>
    <div class="products"></div>
  </section>
  <aside>
    <p class="pinned"></p>
    <div class="chat-list" aria-live="polite"></div>
    <p class="status" data-state="connecting"></p>
  </aside>
</main>
<script>
(function () {{
  "use strict";
  var room = document.querySelector("main.room").dataset.room;
  var proto = location.protocol === "https:" ? "wss://" : "ws://";
  var ws = new WebSocket(proto + location.host + "/live/ws/" + encodeURIComponent(room) + location.search);
  var status = document.querySelector(".status");
  function el(tag, cls, text) {{
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }}
  function card(ev) {{
    var box = document.querySelector('.product-card[data-sku="' + CSS.escape(ev.sku) + '"]');
    if (!box) {{
      box = el("div", "product-card");
      box.dataset.sku = ev.sku;
      document.querySelector(".products").appendChild(box);
    }}
    box.replaceChildren(
      el("p", "product-name", ev.name),
      el("span", "price-label", ev.price_label),
      el("span", "price", "¥" + ev.price),
      el("span", "ref-label", ev.ref_label),
      el("del", "ref-price", "¥" + ev.ref_price),
      el("p", "sales", ev.sales),
      el("span", "tag", ev.tag)
    );
  }}
  ws.onopen = function () {{ status.dataset.state = "open"; }};
  ws.onclose = function () {{ status.dataset.state = "closed"; }};
  ws.onmessage = function (msg) {{
    var ev = JSON.parse(msg.data);
    if (ev.type === "title") {{
      document.querySelector(".room-title").textContent = ev.text;
    }} else if (ev.type === "pinned") {{
      document.querySelector(".pinned").textContent = ev.text;
    }} else if (ev.type === "product_card") {{
      card(ev);
    }} else if (ev.type === "chat") {{
      var line = el("p", "chat-msg");
      line.dataset.seq = String(ev.seq);
      line.dataset.role = ev.role;
      line.append(el("span", "chat-user", ev.user), el("span", "chat-text", ev.text));
      var list = document.querySelector(".chat-list");
      list.appendChild(line);
      while (list.children.length > 200) list.removeChild(list.firstChild);
      list.scrollTop = list.scrollHeight;
    }}
  }};
}})();
</script>
</body>
</html>
"""


def room_page(room_id: str) -> str | None:
    if room_id not in ROOMS:
        return None
    return PAGE.format(room_id=html.escape(room_id))


def _param(ws: WebSocket, name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(ws.query_params.get(name, default))
    except ValueError:
        value = default
    return min(max(value, low), high)


async def room_socket(ws: WebSocket) -> None:
    room = ROOMS.get(ws.path_params["room_id"])
    if room is None:
        await ws.close(code=4404)
        return
    await ws.accept()
    speed = _param(ws, "speed", 1.0, 0.1, 1000.0)
    loops = int(_param(ws, "loops", 0, 0, 1_000_000))
    duration = room["duration"]
    seq = 0
    loop = 0
    try:
        while loops == 0 or loop < loops:
            clock = 0.0
            for t, ev in room["script"]:
                await asyncio.sleep((t - clock) / speed)
                clock = t
                frame = {"type": ev["type"], "t": round(loop * duration + t, 2), "seq": seq, "loop": loop}
                frame.update({k: v for k, v in ev.items() if k != "type"})
                await ws.send_text(json.dumps(frame, ensure_ascii=False))
                seq += 1
            await asyncio.sleep((duration - clock) / speed)
            loop += 1
        await ws.close()
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
