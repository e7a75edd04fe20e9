"""newsalign: crawl a news article and its translated editions, extract, tag, store and align them."""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
