"""Datasets: a pinned catalogue, download with resume, safe extraction, verification, manifests."""
