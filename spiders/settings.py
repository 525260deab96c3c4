"""Scrapy settings for every Kamerwacht spider: polite, bounded, and free of remote control."""

BOT_NAME = "kamerwacht"
SPIDER_MODULES = ["spiders.syncfeed", "spiders.koop", "spiders.files", "spiders.tweedekamer"]
NEWSPIDER_MODULE = "spiders"

# The User-Agent names the project and the operator's contact address (set per run from config).
USER_AGENT = "Kamerwacht/0.1 (+https://github.com/kamerwacht; operator@example.org)"

ROBOTSTXT_OBEY = True
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.robots.SafeRobotsTxtMiddleware": 100,
}
# Scrapy 2.19 starts a local HTTP server that runs code unless told not to.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 1
# Scrapy ignores robots.txt Crawl-delay, so a delay is always set here (overridden from config).
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]

# Never let a cache hide a correction: validators are kept in our own database instead.
HTTPCACHE_ENABLED = False

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
CLOSESPIDER_TIMEOUT = 900
