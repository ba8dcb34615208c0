"""The offline demo site: `python -m crawler.demosite --port 8765`."""
