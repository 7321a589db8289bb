"""The sandbox livestream rooms: /live/room/<id> pages fed by /live/ws/<id> on a scripted, looping timeline.

Rooms 1001 and 2002 send every event as a JSON text frame ``{"type", "t", "seq", "loop", ...fields}`` where ``type`` is one of
``title``, ``pinned``, ``product_card`` and ``chat``, and ``t`` is the scripted time in seconds since the
connection opened (it keeps growing across loops). Query parameters on the socket URL:
``speed`` (time factor, default 1; tests use e.g. 20) and ``loops`` (close after N loops; default 0 = forever).
The room page passes its own query string on to the socket, so ``/live/room/1001?speed=5`` works too.
The simulator rooms 3003 and 3004 (see below) add a countdown, a canvas overlay, a <video> with burned-in
text and a transcript, and send chat as binary protobuf-over-gzip frames.
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
    if ROOMS[room_id].get("binary_chat"):
        return SIM_PAGE.format(room_id=html.escape(room_id), media=SIM_PAGE_MEDIA.format(room_id=html.escape(room_id)))
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
    binary_chat = bool(room.get("binary_chat"))
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
                if binary_chat and ev["type"] == "chat":
                    await ws.send_bytes(encode_chat(ev, seq))
                else:
                    await ws.send_text(json.dumps(frame, ensure_ascii=False))
                seq += 1
            await asyncio.sleep((duration - clock) / speed)
            loop += 1
        await ws.close()
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


# ---------------------------------------------------------------------------------------------- simulator rooms
#
# Rooms 3003 (violations) and 3004 (clean) simulate a large platform's room: the JSON socket carries the
# title, pinned message, product cards, a countdown and the text drawn on a canvas overlay, while chat
# arrives as binary frames in the protobuf-over-gzip layout of the large platforms' "webcast push"
# sockets (see `encode_push_frame`). The stage plays a <video> whose frames carry burned-in text and whose
# audio has a transcript beside it (`/live/media/<room>.transcript.json`, read by the test speech backend).
# Timeline and ground truth are code: `room_events(room_id)` and `SIM_TRUTH`.

SIM_PAGE_MEDIA = "/live/media/{room_id}.webm"


def _countdown(label: str, seconds: int, after: str = "") -> Event:
    return {"type": "countdown", "label": label, "seconds": seconds, "after": after}


def _overlay(text: str) -> Event:
    return {"type": "overlay", "text": text}


ROOMS["3003"] = {
    "name": "源头工厂好物直播间",
    "host": "阿强",
    "duration": 6.0,
    "binary_chat": True,
    "script": [
        (0.0, {"type": "title", "text": "源头工厂直播间｜全网最低价"}),
        (0.3, _overlay("买一送三 仅限今天")),
        (0.6, {"type": "pinned", "text": "库存仅剩50单 售完即止"}),
        (1.0, _card("C01", "灵芝孢子粉胶囊 60粒", 199, 1999, "原价", "本场已售86件", "降血糖 增强免疫力")),
        (1.4, _countdown("限时秒杀倒计时", 179)),
        (1.8, _chat("阿强", "不想在平台下单的，加我微信私下交易更便宜", "host")),
        (2.2, _chat("小芳", "主播好，刚进来")),
        (2.6, _chat("大刘", "这个孢子粉怎么吃？")),
        (3.0, _chat("阿强", "一天两粒，饭后吃", "host")),
        (3.4, _chat("小芳", "已拍两盒")),
        (3.8, _chat("大刘", "什么时候发货")),
        (4.2, _chat("阿强", "今天下单明天发货", "host")),
    ],
}
ROOMS["3004"] = {
    "name": "星禾助农茶园直播间",
    "host": "星禾阿青",
    "duration": 6.0,
    "binary_chat": True,
    "script": [
        (0.0, {"type": "title", "text": "星禾助农直播间｜安化红茶产地直发"}),
        (0.3, _overlay("安化红茶 产地直发 欢迎品尝")),
        (0.6, {"type": "pinned", "text": "请通过直播间购物车下单，支持七天无理由退货（拆封食品除外）"}),
        (1.0, _card("D01", "湖红工夫红茶 250g", 148, 168, "日常价", "本场已售126件")),
        (1.4, _chat("星禾阿青", "大家好，欢迎来到茶园", "host")),
        (1.8, _chat("茶友老周", "红茶怎么泡？")),
        (2.2, _chat("星禾阿青", "水温90度左右，10秒出汤", "host")),
        (2.6, _chat("小鹿", "已下单")),
        (3.0, _chat("星禾阿青", "谢谢支持，明天发货", "host")),
    ],
}

# What a correct monitor must read in the simulator rooms beyond the socket events: the text burned into
# the video, the text drawn on the canvas and the speech (its transcript, in media seconds).
SIM_TRUTH: dict[str, dict[str, Any]] = {
    "3003": {
        "video_text": "原价999元 现价99元",
        "canvas_text": "买一送三 仅限今天",
        "transcript": [
            {"start": 0.5, "end": 2.5, "text": "这个灵芝孢子粉能根治糖尿病，吃了就不用吃药了"},
            {"start": 3.0, "end": 5.5, "text": "今天全网最低价，错过再等一年"},
        ],
    },
    "3004": {
        "video_text": "湖红工夫红茶 250g",
        "canvas_text": "安化红茶 产地直发 欢迎品尝",
        "transcript": [
            {"start": 0.5, "end": 3.0, "text": "这款红茶是普通食品，不能治疗疾病，大家按需购买"},
            {"start": 3.5, "end": 5.5, "text": "下单后四十八小时内发货"},
        ],
    },
}


# -- protobuf wire format, just enough to write the push frames (no generated classes) ----------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | str | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def encode_push_frame(seq: int, method: str, message: bytes, log_id: int = 0) -> bytes:
    """One binary frame: PushFrame{1 seqId, 2 logId, 6 payloadEncoding "gzip", 7 payloadType "msg",
    8 payload = gzip(Response{1 messages [Message{1 method, 2 payload, 3 msgId}], 2 cursor, 9 needAck})}."""
    import gzip

    msg = _field(1, method) + _field(2, message) + _field(3, 7_000_000 + seq)
    response = _field(1, msg) + _field(2, f"t-{seq}") + _field(9, 0)
    payload = gzip.compress(response, mtime=0)
    return _field(1, seq) + _field(2, log_id or 1000 + seq) + _field(6, "gzip") + _field(7, "msg") + _field(8, payload)


def encode_chat(ev: Event, seq: int) -> bytes:
    """WebcastChatMessage{1 common{1 method, 2 msgId}, 2 user{1 id, 3 nickName}, 3 content} in a push frame."""
    common = _field(1, "WebcastChatMessage") + _field(2, 7_000_000 + seq)
    user = _field(1, 10_000 + sum(map(ord, ev["user"]))) + _field(3, ev["user"])
    chat = _field(1, common) + _field(2, user) + _field(3, ev["text"])
    return encode_push_frame(seq, "WebcastChatMessage", chat)


def transcript(room_id: str) -> dict | None:
    """The transcript shipped beside a simulator room's audio."""
    truth = SIM_TRUTH.get(room_id)
    if truth is None:
        return None
    return {"media": SIM_PAGE_MEDIA.format(room_id=room_id), "language": "zh", "segments": truth["transcript"]}


def make_media(room_id: str, out: str, font: str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc") -> None:
    """Build a room's 6 s VP8/Opus clip with its text burned in (ffmpeg drawtext); the clips are shipped."""
    import subprocess

    text = SIM_TRUTH[room_id]["video_text"]
    subprocess.run(  # noqa: S603 - fixed argument list
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "color=c=0x20304a:s=480x270:r=10:d=6",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=6:sample_rate=48000",
         "-vf", f"drawtext=fontfile={font}:text='{text}':fontsize=34:fontcolor=yellow:x=(w-text_w)/2:y=h-70"
                ":box=1:boxcolor=0xb0102e@0.9:boxborderw=8",
         "-c:v", "libvpx", "-b:v", "120k", "-g", "30", "-c:a", "libopus", "-b:a", "24k", "-ac", "1", "-shortest", out],
        check=True,
    )  # fmt: skip


SIM_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>直播间 {room_id} - 好物直播</title>
<link rel="stylesheet" href="/static/site.css">
<style>
  body {{ margin: 0; font-family: "Noto Sans CJK SC", sans-serif; }}
  .room {{ display: grid; grid-template-columns: 480px 1fr; gap: 1rem; padding: .5rem; }}
  .stage {{ position: relative; width: 480px; height: 270px; background: #000; }}
  .stage video, .stage canvas {{ position: absolute; left: 0; top: 0; width: 480px; height: 270px; }}
  .room-title {{ font-size: 1.1rem; margin: .3rem 0; }}
  .countdown {{ color: #c8102e; font-weight: bold; min-height: 1.2em; }}
  .product-card {{ border: 1px solid #eee; padding: .4rem; margin: .4rem 0; }}
  .pinned {{ background: #fff6e0; padding: .3rem .6rem; }}
  .chat-list {{ height: 260px; overflow-y: auto; border: 1px solid #ddd; padding: .4rem; }}
  .chat-user {{ color: #888; margin-right: .4rem; }}
</style>
</head>
<body>
<main class="room" data-room="{room_id}">
  <section>
    <h1 class="room-title"></h1>
    <div class="stage">
      <video class="stream" src="{media}" autoplay muted loop playsinline></video>
      <canvas class="overlay" width="480" height="270"></canvas>
    </div>
    <p class="countdown"></p>
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
  var params = new URLSearchParams(location.search);
  var speed = Math.min(Math.max(parseFloat(params.get("speed") || "1") || 1, 0.1), 1000);
  var proto = location.protocol === "https:" ? "wss://" : "ws://";
  var ws = new WebSocket(proto + location.host + "/live/ws/" + encodeURIComponent(room) + location.search);
  ws.binaryType = "arraybuffer";
  var status = document.querySelector(".status");
  function el(tag, cls, text) {{
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }}
  // protobuf wire format: field number -> list of values (numbers or byte arrays)
  function parse(buf) {{
    var out = {{}}, pos = 0;
    function varint() {{
      var result = 0, mul = 1, b;
      do {{ b = buf[pos++]; result += (b & 0x7f) * mul; mul *= 128; }} while (b & 0x80);
      return result;
    }}
    while (pos < buf.length) {{
      var key = varint(), num = Math.floor(key / 8), wire = key % 8, value;
      if (wire === 0) value = varint();
      else if (wire === 2) {{ var n = varint(); value = buf.subarray(pos, pos + n); pos += n; }}
      else if (wire === 1) {{ value = buf.subarray(pos, pos + 8); pos += 8; }}
      else if (wire === 5) {{ value = buf.subarray(pos, pos + 4); pos += 4; }}
      else break;
      (out[num] = out[num] || []).push(value);
    }}
    return out;
  }}
  var utf8 = new TextDecoder("utf-8");
  function str(v) {{ return v ? utf8.decode(v) : ""; }}
  async function gunzip(bytes) {{
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }}
  function addChat(user, text, seq) {{
    var line = el("p", "chat-msg");
    line.dataset.seq = String(seq);
    line.append(el("span", "chat-user", user), el("span", "chat-text", text));
    var list = document.querySelector(".chat-list");
    list.appendChild(line);
    while (list.children.length > 200) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }}
  var chain = Promise.resolve();
  function binary(data) {{
    chain = chain.then(async function () {{
      var frame = parse(new Uint8Array(data));
      var seq = (frame[1] || [0])[0];
      var payload = frame[8] ? frame[8][0] : new Uint8Array();
      if (str((frame[6] || [])[0]) === "gzip") payload = await gunzip(payload);
      var response = parse(payload);
      (response[1] || []).forEach(function (raw) {{
        var msg = parse(raw);
        if (str((msg[1] || [])[0]) !== "WebcastChatMessage") return;
        var chat = parse(msg[2][0]);
        var user = chat[2] ? parse(chat[2][0]) : {{}};
        addChat(str((user[3] || [])[0]), str((chat[3] || [])[0]), seq);
      }});
    }});
  }}
  function card(ev) {{
    var box = document.querySelector('.product-card[data-sku="' + CSS.escape(ev.sku) + '"]');
    if (!box) {{
      box = el("div", "product-card");
      box.dataset.sku = ev.sku;
      document.querySelector(".products").appendChild(box);
    }}
    box.replaceChildren(
      el("p", "product-name", ev.name), el("span", "price-label", ev.price_label),
      el("span", "price", "¥" + ev.price), el("span", "ref-label", ev.ref_label),
      el("del", "ref-price", "¥" + ev.ref_price), el("p", "sales", ev.sales), el("span", "tag", ev.tag)
    );
  }}
  var timer = null;
  function countdown(ev) {{
    var left = ev.seconds, box = document.querySelector(".countdown");
    function show() {{ box.textContent = ev.label + " " + left + "秒" + (ev.after ? "，" + ev.after : ""); }}
    if (timer) clearInterval(timer);
    show();
    timer = setInterval(function () {{ left = Math.max(0, left - 1); show(); }}, 1000 / speed);
  }}
  function overlay(ev) {{
    var c = document.querySelector("canvas.overlay"), g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    g.font = "bold 30px 'Noto Sans CJK SC', sans-serif";
    var w = g.measureText(ev.text).width;
    g.fillStyle = "rgba(255,255,255,0.92)";
    g.fillRect(20, 22, w + 24, 46);
    g.fillStyle = "#c8102e";
    g.fillText(ev.text, 32, 56);
  }}
  ws.onopen = function () {{ status.dataset.state = "open"; }};
  ws.onclose = function () {{ status.dataset.state = "closed"; }};
  ws.onmessage = function (msg) {{
    if (typeof msg.data !== "string") {{ binary(msg.data); return; }}
    var ev = JSON.parse(msg.data);
    if (ev.type === "title") document.querySelector(".room-title").textContent = ev.text;
    else if (ev.type === "pinned") document.querySelector(".pinned").textContent = ev.text;
    else if (ev.type === "product_card") card(ev);
    else if (ev.type === "countdown") countdown(ev);
    else if (ev.type === "overlay") overlay(ev);
    else if (ev.type === "chat") addChat(ev.user, ev.text, ev.seq);
  }};
}})();
</script>
</body>
</html>
"""
