"""Shared fixtures: a tiny random SSL model (HuBERT structure) and synthetic speech-like audio."""
from espnet_pise.data.synthetic import speechlike, write_enh_data  # noqa: F401 (re-exported)

# HuBERT structure (7-layer CNN, 320-sample hop, conv positional embedding, transformer), tiny.
TINY_ARCH = dict(
    extractor_conv_layer_config=[[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 3, 2], [16, 2, 2], [16, 2, 2]],
    encoder_embed_dim=32,
    encoder_pos_conv_kernel=16,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=4,
    encoder_ff_interm_features=64,
)
TINY_SSL = dict(ssl_source="torchaudio:custom", arch_conf=TINY_ARCH)

