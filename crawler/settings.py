"""Project settings: every default in one place. Override any with `-s NAME=VALUE`."""

from __future__ import annotations

BOT_NAME = "arshif"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
COMMANDS_MODULE = "crawler.commands"
ADDONS = {"crawler.addon.ArshifAddon": 0}

# --- Where everything goes -------------------------------------------------
ARCHIVE_DIR = "archive"
# Sync archive files to disk before they get their final names: a power cut
# then cannot leave an empty or partial file under a final name. Off only for
# throwaway runs.
ARCHIVE_FSYNC = True
# Files are synced and published in batches, every this many seconds, with
# one filesystem sync for all of them (crawler/store/committer.py): a power
# cut costs at most the files of the last interval, fetched again next run.
# 0 = each file fsynced and published on its own (slower).
ARCHIVE_SYNC_INTERVAL = 1.0

# --- Schedule ----------------------------------------------------------------
# An article already stored is asked for again (a conditional request) at
# most this often, in seconds, unless a sitemap or feed says it changed.
# Listings, sitemaps and feeds are fetched on every run.
RECRAWL_AFTER = 6 * 3600
# Pending requests wait on disk, under ARCHIVE_DIR/state/queue/ for the run
# (crawler/frontier.py; JOBDIR, if set, keeps them there instead), and are
# taken in the order they were found.
SCHEDULER_DISK_QUEUE = "crawler.frontier.SpooledRequestQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
# A JSON report per run under ARCHIVE_DIR/runs/<site>/, and a summary in the log.
RUN_REPORT_ENABLED = True
# The exit code of a crawl whose run report lists health alerts (crawler.health), so that cron
# mails it; 0 keeps the exit code of a finished crawl 0.
ALERT_EXIT_CODE = 0
EXTENSIONS = {
    # Before the run report: the committer's last counts are in the report.
    "crawler.workers.WorkerPool": 100,
    "crawler.store.committer.Committer": 110,
    "crawler.capture.indexer.CdxIndexer": 120,
    "crawler.runreport.RunReport": 500,
}

# --- Several workers on one Redis (crawler/scaleout) -------------------------
# redis://host:6379/0 makes this process one worker of a crawl shared through
# that Redis (scrapy-redis): one queue, each URL fetched once, one politeness
# delay per site, the state in Redis. Unset: nothing needs or imports Redis.
REDIS_URL = None
# Keys are <prefix>:<site>:...; another prefix keeps two projects apart on one server.
REDIS_KEY_PREFIX = "arshif"
# A worker not heard from for this long (it renews every quarter of it) is
# gone: the requests it held go back to the queue for the others.
REDIS_LEASE_TIMEOUT = 30.0
# A run is over, and each worker exits, once nothing has been queued or in
# flight in any worker for this long.
REDIS_IDLE_CLOSE = 5.0
# How often a worker acknowledges finished requests and requeues the requests of stopped workers.
REDIS_TICK_INTERVAL = 0.5
# A Redis that stops answering is noticed in seconds, not in scrapy-redis's default 30.
REDIS_PARAMS = {"socket_timeout": 10, "socket_connect_timeout": 5, "retry_on_timeout": True}
# A rediss:// URL is Redis over TLS: the CA that signed the server's certificate (unset: the
# system's CAs), and this worker's own certificate and key where the server asks for one
# (redis.conf's tls-auth-clients, on by default).
REDIS_TLS_CA_FILE = None
REDIS_TLS_CERT_FILE = None
REDIS_TLS_KEY_FILE = None
# The most bytes an entry of the shared queue may have: larger ones are refused unread
# (crawler.scaleout.entries). A request of this crawl takes a few hundred.
REDIS_ENTRY_MAX_BYTES = 65536

# --- Politeness --------------------------------------------------------------
# The User-Agent names the project and a page where a site owner can reach
# whoever runs the crawl: set CONTACT_URL to yours.
CONTACT_URL = "https://example.org/arshif-crawler-contact"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_DELAY = 0.5
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_TIMEOUT = 30
# A page gives one item and a few requests: Scrapy's default of 100 parallel
# item slots per response costs 100 asyncio tasks per page, for nothing.
CONCURRENT_ITEMS = 8
# A news page is well under 1 MiB; a sitemap at most 50 MB by the protocol, but
# sites split theirs long before that. 16 MiB is room for any real one, and the
# cap applies to decompressed bodies too (Scrapy's HttpCompressionMiddleware and
# the spider's own gunzip of .xml.gz sitemaps stop inflating past it), so a
# decompression bomb costs at most this much memory per response instead of
# Scrapy's default 1 GiB. Bigger responses are dropped and logged as too_large.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
# A response whose connection ends before its Content-Length is kept as sent, marked
# WARC-Truncated: disconnect, and gives no document (truncated): the next run asks for it
# again. Scrapy's default (True) drops it, and the archive would not show what the server did.
DOWNLOAD_FAIL_ON_DATALOSS = False
# Listing pages followed from listing pages (pagers, calendars, archives): at
# most this many hops from a start page. An endless calendar ("?page=N" for
# every N) otherwise keeps a crawl going for ever; 0 = no limit. Articles,
# sitemaps and feeds do not count.
LISTING_DEPTH_LIMIT = 200
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "ar,en;q=0.5",
}
# An unattended scheduled crawl opens no listening ports.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# --- Capture -----------------------------------------------------------------
WARC_ENABLED = True
# Keep ARCHIVE_DIR/index/<site>.cdxj, the CDXJ index of every capture, up to date after each crawl.
CDX_INDEX_ENABLED = True
DOWNLOAD_HANDLERS = {
    "http": "crawler.capture.wire.WireHTTP11DownloadHandler",
    "https": "crawler.capture.wire.WireHTTP11DownloadHandler",
}
DOWNLOADER_MIDDLEWARES = {
    # Above HttpCompression (590) and Redirect (600): sees the wire bytes.
    "crawler.capture.middleware.WarcCaptureMiddleware": 950,
    # Below the capture: a body cut in transfer is captured as sent before it is asked for again.
    "crawler.capture.dataloss.DataLossRetryMiddleware": 940,
}

# --- Text -------------------------------------------------------------------
TEXT_ENABLED = True
# Worker processes for the CPU work of each response (writing its capture,
# extracting its text); 0 = one per core.
TEXT_WORKERS = 0
ITEM_PIPELINES = {
    "pipelines.text.ArticlePipeline": 300,
}

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
