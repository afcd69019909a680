"""Registration of espnet_pise components into ESPnet's task tables."""
