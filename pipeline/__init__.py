"""newsalign: crawl a news article and its translated editions; extract, tag, store, align."""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
