"""Vendor simulator: real loopback HTTP fakes of Freshservice, Freshdesk and Jira for tests and demo mode."""

from vendorsim.server import DEFAULT_SIZES, VENDORS, VendorSimulator
from vendorsim.store import ADVERSARIAL_KINDS

__all__ = ["ADVERSARIAL_KINDS", "DEFAULT_SIZES", "VENDORS", "VendorSimulator"]
