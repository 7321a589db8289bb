"""Scrapy settings for Fangxin Watch crawls.

Each setting is documented where it is set. Plans and command-line options
override some of them per crawl (see crawlers/run.py). Settings of our own
start with FANGXIN_.
"""

from fangxin import __version__

BOT_NAME = "fangxin"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

# --- Identity and politeness ------------------------------------------------
# An honest user agent naming the operating authority and a contact; plans set
# their own with `politeness.user_agent`.
USER_AGENT = f"FangxinWatch/{__version__} (+market-supervision monitoring; contact: set politeness.user_agent in the plan)"
# Obey robots.txt by default; a plan may override it only explicitly.
ROBOTSTXT_OBEY = True
# One request at a time per site, one second apart, adapted by AutoThrottle.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Back off on 429/503 (Scrapy's RetryMiddleware honours them).
RETRY_TIMES = 2
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]

# --- Safety ------------------------------------------------------------------
# No control endpoints: the telnet console and the RemoteControl extension can
# run code inside the crawler.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "crawlers.extensions.BodyLimit": 10,
    "crawlers.extensions.Progress": 20,
}
# A page is cut (not dropped) at FANGXIN_MAX_BODY_BYTES and recorded as cut;
# Scrapy's own hard limit stays higher as a backstop.
FANGXIN_MAX_BODY_BYTES = 2 * 1024 * 1024
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
# Time per page and redirect caps.
DOWNLOAD_TIMEOUT = 30
DNS_TIMEOUT = 10
REDIRECT_MAX_TIMES = 5
# Calendar traps and other endless link chains: a depth cap and a per-crawl page cap.
DEPTH_LIMIT = 4
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
# Links and redirects to private, loopback or link-local addresses are refused
# unless allowed (FANGXIN_ALLOW_PRIVATE_HOSTS lists hosts, e.g. the sandbox).
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.PrivateAddressGuard": 50,
    # After RetryMiddleware (550) so it sees every response: adds scrapy-playwright's meta to
    # requests marked `fangxin_render` and recycles browser contexts (see Rendering below).
    "crawlers.middlewares.BrowserPages": 950,
}
FANGXIN_ALLOW_PRIVATE_HOSTS: list[str] = []

# --- Pipelines (ordered, each replaceable) --------------------------------------
ITEM_PIPELINES = {
    "pipelines.recrawl.UnchangedPipeline": 50,  # same body as the latest stored capture: not re-flagged
    "pipelines.extract.ExtractPipeline": 100,  # document fields, prices, merchant
    "pipelines.flag.FlagPipeline": 200,  # rule engine
    "pipelines.ocr.OcrPipeline": 210,  # text in product images (only when FANGXIN_OCR is on)
    "crawlers.pipelines.HitScreenshot": 250,  # full-page screenshot of pages with a hit
    "pipelines.evidence.EvidencePipeline": 300,  # WARC records, hash chain
    "pipelines.save.SavePipeline": 400,  # SQLite store, one transaction per capture
}

# --- Our settings --------------------------------------------------------------
# OCR of product-detail images (rapidocr): off by default, on per plan (`ocr: true`) or with
# -s FANGXIN_OCR=true. Images below the size thresholds are skipped; results are cached by hash.
FANGXIN_OCR = False
FANGXIN_OCR_MIN_PIXELS = 40000  # width x height
FANGXIN_OCR_MIN_SIDE = 120  # shorter side, pixels
FANGXIN_OCR_MAX_IMAGES = 12  # per page, in document order
FANGXIN_OCR_CACHE = ""  # on-disk OCR cache; empty: `ocr-cache/` beside the database
FANGXIN_DB = "data/fangxin.db"  # the SQLite store
FANGXIN_EVIDENCE_DIR = ""  # WARC folder; empty: `warc/` beside the database
FANGXIN_OPERATOR = ""  # who runs the crawl; empty: the OS user
FANGXIN_PLAN = "adhoc"  # plan name recorded with the run
FANGXIN_WARC_MAX_BYTES = 256 * 1024 * 1024  # WARC file rotation size
FANGXIN_TSA_URL = ""  # RFC 3161 time-stamp authority; empty: none
FANGXIN_RULE_PACKS: list[str] = []  # pack folders; empty: all under rules/packs/
FANGXIN_PROGRESS = True  # print a live progress line to stderr
# The crash-safe frontier of plan crawls (crawlers.frontier); empty: frontier/<plan>.sqlite beside the database.
FANGXIN_FRONTIER = ""

# --- Rendering (scrapy-playwright) ---------------------------------------------
# Only requests with meta["playwright"] = True go to the browser.
# crawlers.handler: scrapy-playwright's handler with pages reused within a context and no
# per-request routing (about half the CPU per rendered page on the sandbox mall).
DOWNLOAD_HANDLERS = {
    "http": "crawlers.handler.FangxinPlaywrightHandler",
    "https": "crawlers.handler.FangxinPlaywrightHandler",
}
# No header routing: the user agent is set on the browser context (crawlers.middlewares.BrowserPages),
# the rest of the headers are Chromium's own, and the ones it sent are kept with the request.
PLAYWRIGHT_PROCESS_REQUEST_HEADERS = None
PLAYWRIGHT_BROWSER_TYPE = "chromium"
# PLAYWRIGHT_LAUNCH_OPTIONS is filled at crawl start from crawlers.browser.
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
# Playwright keeps every request of a context until it closes (playwright#6319): a fresh context
# after this many rendered pages, a fresh Chromium after FANGXIN_BROWSER_RESTART_PAGES (200: over
# 2,000 rendered pages the mean memory of a context lifetime grew 6% instead of 21% with 500, at
# the same pages/s; a launch costs about 1 CPU-s).
FANGXIN_CONTEXT_PAGES = 100
FANGXIN_BROWSER_RESTART_PAGES = 200
FANGXIN_WAIT_UNTIL = "networkidle"  # load | domcontentloaded | networkidle
# Full-page screenshots: "hits" (pages with a hit; static ones are rendered for it), "all", "none".
FANGXIN_SCREENSHOTS = "hits"

# --- Logging and misc ----------------------------------------------------------
LOG_LEVEL = "WARNING"
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
