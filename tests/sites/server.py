"""The sandbox web server: every sample site under one Starlette app on 127.0.0.1.

Public API:
    create_app()            -> Starlette ASGI app
    serve(port, host)       run until Ctrl-C, printing ``sandbox at http://127.0.0.1:PORT/``
    start_in_thread(port)   -> (base_url, stop) for tests and benchmarks
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from tests.sites import live, mall, pricing, shop, traps

WWW = Path(__file__).resolve().parent / "www"

# Pages whose UTF-8 source is re-encoded when served: path -> (codec, Content-Type).
ENCODED_PAGES: dict[str, tuple[str, str]] = {
    "/enc/gbk.html": ("gbk", "text/html; charset=GBK"),
    # Declared only by <meta charset="gb2312">; the body holds GB18030-only characters.
    "/enc/gb18030.html": ("gb18030", "text/html"),
}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


class StaticPages:
    """Files under www/, read once and then served from memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, tuple[bytes, str]] = {}
        self.lock = threading.Lock()

    def resolve(self, url_path: str) -> Path | None:
        parts = PurePosixPath(url_path).parts[1:]
        if any(p in ("..", ".") or p.startswith(".") or "\\" in p for p in parts):
            return None
        candidate = self.root.joinpath(*parts) if parts else self.root
        if url_path.endswith("/") or not parts:
            candidate = candidate / "index.html"
        try:
            candidate.resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        return candidate if candidate.is_file() else None

    def get(self, url_path: str) -> tuple[bytes, str] | None:
        with self.lock:
            if url_path in self.cache:
                return self.cache[url_path]
        found = self.resolve(url_path)
        if found is None:
            return None  # misses are not cached: arbitrary URLs must not grow memory
        data = found.read_bytes()
        if url_path in ENCODED_PAGES:
            codec, ctype = ENCODED_PAGES[url_path]
            data = data.decode("utf-8").encode(codec)
        else:
            ctype = CONTENT_TYPES.get(found.suffix, "application/octet-stream")
        with self.lock:
            self.cache[url_path] = (data, ctype)
        return data, ctype


def not_found() -> Response:
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>页面不存在</title></head>'
        '<body><h1>404 页面不存在</h1><p><a href="/">返回首页</a></p></body></html>'
    )
    return Response(body, status_code=404, media_type="text/html; charset=utf-8")


def create_app() -> Starlette:
    """Build the ASGI app holding every sandbox site."""
    static = StaticPages(WWW)
    shop_site = shop.ShopSite()
    mall_site = mall.MallSite()

    async def static_page(request: Request) -> Response:
        path = request.url.path
        if not path.endswith("/") and static.resolve(path + "/") is not None:
            return RedirectResponse(path + "/", status_code=301)
        entry = static.get(path)
        if entry is None:
            return not_found()
        body, ctype = entry
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type=None, headers={"Content-Type": ctype, "ETag": etag})

    async def dynamic(request: Request, render: Callable[..., str | None], **kwargs: object) -> Response:
        html = render(**kwargs)
        if html is None:
            return not_found()
        return Response(html, media_type="text/html; charset=utf-8")

    async def shop_list(request: Request) -> Response:
        p = request.path_params
        return await dynamic(request, shop_site.list_page, category=p["category"], page=p["page"])

    async def shop_item(request: Request) -> Response:
        return await dynamic(request, shop_site.item_page, item_id=request.path_params["item_id"])

    async def shop_seller(request: Request) -> Response:
        return await dynamic(request, shop_site.seller_page, seller_id=request.path_params["seller_id"])

    async def shop_home(request: Request) -> Response:
        return await dynamic(request, shop_site.home_page)

    async def shop_file(request: Request) -> Response:
        found = traps.shop_file(request.path_params["name"])
        if found is None:
            return not_found()
        data, ctype = found
        return Response(data, media_type=ctype)

    async def calendar(request: Request) -> Response:
        p = request.path_params
        return await dynamic(request, traps.calendar_page, year=p["year"], month=p["month"])

    async def big(request: Request) -> Response:
        return Response(traps.big_page(), media_type="text/html; charset=utf-8")

    async def mall_home(request: Request) -> Response:
        return await dynamic(request, mall_site.home_page)

    async def mall_list(request: Request) -> Response:
        return await dynamic(request, mall_site.list_page, page=request.path_params["page"])

    async def mall_item(request: Request) -> Response:
        return await dynamic(request, mall_site.item_page, item_id=request.path_params["item_id"])

    async def live_room(request: Request) -> Response:
        return await dynamic(request, live.room_page, room_id=request.path_params["room_id"])

    async def to_slash(request: Request) -> Response:
        return RedirectResponse(request.url.path.removesuffix("/index.html") + "/", status_code=301)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/shop/", shop_home),
        Route("/shop", to_slash),
        Route("/shop/index.html", to_slash),
        Route("/mall", to_slash),
        Route("/shop/list/{category:str}/{page:int}.html", shop_list),
        Route("/shop/item/{item_id:int}.html", shop_item),
        Route("/shop/seller/{seller_id:str}.html", shop_seller),
        Route("/shop/files/{name:str}", shop_file),
        Route("/calendar/{year:int}/{month:int}", calendar),
        Route("/big/catalog.html", big),
        Route("/mall/", mall_home),
        Route("/mall/list/{page:int}.html", mall_list),
        Route("/mall/p/{item_id:int}.html", mall_item),
        Route("/live/room/{room_id:str}", live_room),
        WebSocketRoute("/live/ws/{room_id:str}", live.room_socket),
        Route("/_health", health),
        Route("/pricing/{path:path}", pricing.endpoint, methods=["GET", "POST"]),
        Route("/{path:path}", static_page),
    ]
    return Starlette(routes=routes)


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"sandbox refuses to listen on {host!r}: only loopback addresses (127.0.0.1, ::1) are allowed")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(sock: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(),
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(port: int = 8800, host: str = "127.0.0.1") -> None:
    """Serve the sandbox until Ctrl-C; prints one line with the real address once the socket is bound."""
    _check_loopback(host)
    if host == "localhost":
        host = "127.0.0.1"
    sock = _bind(host, port)
    server = _server(sock)
    print(f"sandbox at {_url(host, sock.getsockname()[1])}/", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    sys.stdout.flush()


def start_in_thread(port: int = 0) -> tuple[str, Callable[[], None]]:
    """Start the sandbox in a daemon thread; return (base URL without trailing slash, stop function)."""
    host = "127.0.0.1"
    sock = _bind(host, port)
    server = _server(sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fangxin-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("sandbox server failed to start")
        time.sleep(0.01)
    base = _url(host, sock.getsockname()[1])

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()

    return base, stop
