# SPDX-License-Identifier: MIT
"""Headless chromium for the checks of memprof's SVG/HTML output: find the
browser, and load a file to get the DOM as the page's scripts left it."""
import shutil
import subprocess
import tempfile


def chromium():
    """The browser's path, or None when it is not installed."""
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(name):
            return shutil.which(name)
    return None


def dump_dom(browser, url, d):
    """The serialized DOM of `url` after its scripts ran (2 s of virtual
    time), with a fresh profile under directory d and no network use."""
    prof = tempfile.mkdtemp(dir=d)
    r = subprocess.run([browser, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                        '--no-first-run', '--disable-background-networking',
                        '--disable-component-update', '--disable-sync', '--user-data-dir=' + prof,
                        '--virtual-time-budget=2000', '--dump-dom', url],
                       capture_output=True, text=True, timeout=120)
    return r.stdout
