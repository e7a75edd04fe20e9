"""Scrapy settings: polite by default, bounded in size and time, storing through pipeline/."""

from scrapy.settings import default_settings

BOT_NAME = "newsalign"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

USER_AGENT = (
    "newsalign/0.1 (multilingual news edition crawler; +https://pypi.org/project/newsalign/)"
)
ROBOTSTXT_OBEY = True

# Politeness: AutoThrottle adapts the delay to the server's latency.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4

# Retries with exponential backoff on 5xx, 429 and timeouts (see crawler.middlewares).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 60.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.ConditionalGetMiddleware": 560,
    # above RedirectMiddleware (600): sees each 3xx first, and every request (redirected ones too)
    "crawler.guard.RedirectGuard": 610,
    "crawler.guard.PrivateAddressGuard": 620,
}

# Bounds: size (also after decompression), time, redirects.
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 10

# Every status reaches the spider, so failures are recorded instead of silently dropped.
HTTPERROR_ALLOW_ALL = True

ITEM_PIPELINES = {"crawler.pipelines.StoragePipeline": 300}

# newsalign's own settings.
NEWSALIGN_DB = None  # SQLAlchemy URL; None means $NEWSALIGN_DB or sqlite:///newsalign.db
NEWSALIGN_RUN_ID = None  # crawl_runs id created by the CLI; None: the pipeline creates one
NEWSALIGN_PROGRESS_SECONDS = 5.0
NEWSALIGN_CONDITIONAL_GET = True  # If-None-Match / If-Modified-Since for stored editions
NEWSALIGN_SKIP_FRESH = True  # sitemap/feed entries not yet due for a re-fetch are skipped
NEWSALIGN_ALIGN_LIVE = True  # align an article once all its declared editions are stored

# No control ports: a crawl running from cron listens on nothing. Scrapy imports every extension
# its settings name, even one set to None, so the two are left out of the base list itself (the
# remote control imports aiohttp: an empty crawl started 0.3 s sooner on one core without it).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
_control_ports = ("scrapy.extensions.telnet.TelnetConsole", "scrapy.extensions.remote_control.")
EXTENSIONS_BASE = {
    name: order
    for name, order in default_settings.EXTENSIONS_BASE.items()
    if not name.startswith(_control_ports)
}
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
