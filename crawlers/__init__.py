"""Scrapy side of Fangxin Watch: settings, spiders, middlewares, plans, scheduler."""
