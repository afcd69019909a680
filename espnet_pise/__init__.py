"""espnet-pise."""
