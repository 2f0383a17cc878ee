"""pik-recon: reconcile PIK crypto payment links with a shop's orders."""

__version__ = "0.1.0"
