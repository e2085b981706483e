"""Vendor simulator: real loopback HTTP fakes of Freshservice, Freshdesk and Jira for tests and demo mode."""

from vendorsim.server import DEFAULT_SIZES, VENDORS, VendorSimulator

__all__ = ["DEFAULT_SIZES", "VENDORS", "VendorSimulator"]
