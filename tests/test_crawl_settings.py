"""The crawl's Scrapy settings: no control ports, not even their imports."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from scrapy.utils.conf import build_component_list
from crawler.run import crawl_settings
settings = crawl_settings("sqlite://", None, {})
components = settings.get_component_priority_dict_with_base("EXTENSIONS")  # as Scrapy reads them
enabled = [str(c) for c in build_component_list(components)]
loaded = sorted(m for m in sys.modules if m.startswith(("aiohttp", "scrapy.extensions.telnet",
    "scrapy.extensions.remote_control", "twisted.conch")))
print(json.dumps({"enabled": enabled, "loaded": loaded}))
"""


def test_control_port_extensions_are_neither_enabled_nor_imported() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(result.stdout)
    assert found["loaded"] == []
    assert "scrapy.extensions.logstats.LogStats" in found["enabled"]  # the others are kept
    assert not any("telnet" in e or "remote_control" in e for e in found["enabled"])
