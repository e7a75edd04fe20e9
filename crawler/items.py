"""What a spider hands on: one fetched page with raw facts only (see pipeline.page)."""

from pipeline.page import FetchedPage as PageItem

__all__ = ["PageItem"]
