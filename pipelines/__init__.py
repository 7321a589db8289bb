"""Scrapy item pipelines (extract, flag, evidence, save) and the store."""
