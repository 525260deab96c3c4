"""Scrapy spiders, one module per upstream source; each writes `monitor.records` as JSON Lines."""
