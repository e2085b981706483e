"""Vendor simulator: real loopback HTTP fakes of Freshservice, Freshdesk and Jira for tests, bench/ and demo mode.

It owns the fake vendors' data, rules, rate limits and faults, and imports nothing of `tickettracker`; product
code never imports it, except the demo launcher (`tickettracker.runtime.launcher`).
"""

from vendorsim.server import DEFAULT_SIZES, VENDORS, VendorSimulator
from vendorsim.store import ADVERSARIAL_KINDS

__all__ = ["ADVERSARIAL_KINDS", "DEFAULT_SIZES", "VENDORS", "VendorSimulator"]
