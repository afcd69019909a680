"""GTCRN as an ESPnet separator (waveform in and out: use it with the ``same`` encoder and decoder)."""
from typing import Optional, Sequence

import torch
from typeguard import typechecked

from espnet_pise.enh.gtcrn import GTCRN, GTCRNWaveform
from espnet_pise.enh.pretrained import WaveformSeparator, load_converted, load_weights


class GTCRNSeparator(WaveformSeparator):
    """GTCRN (DNS3 architecture by default) as a one-speaker ESPnet separator, 16 kHz:
    (B, T) noisy waveform -> [(B, T)] enhanced waveform.

    Args:
        input_dim: given by ESPnet (1 for the ``same`` encoder); unused.
        num_spk: must be 1.
        init_checkpoint: a converted checkpoint (``python -m espnet_pise.bin.get_se_models``
            writes ``downloads/se_models/gtcrn.pt``, the DNS3-trained model); None: random
            initialisation (or ESPnet's ``--init_param``).  The settings stored in it must equal
            the ones below (a ValueError names the file and the setting otherwise).
        n_fft ... mag_eps: see ``espnet_pise.enh.gtcrn.GTCRN``.
        hop_length, periodic_window: the STFT, see ``espnet_pise.enh.gtcrn.GTCRNWaveform``.
        freeze_batchnorm: keep the batch-norm layers in inference mode while training (their
            scale and shift are still trained): the pretrained statistics stay, and an utterance's
            output never depends on its batch mates or their padding (True).
    """

    @typechecked
    def __init__(
        self,
        input_dim: int = 1,
        num_spk: int = 1,
        init_checkpoint: Optional[str] = None,
        n_fft: int = 512,
        hop_length: int = 256,
        periodic_window: bool = True,
        sample_rate: int = 16000,
        erb_low_bins: int = 65,
        erb_bands: int = 64,
        channels: int = 16,
        dilations: Sequence[int] = (1, 2, 5),
        num_dpgrnn: int = 2,
        sfe_kernel: int = 3,
        mag_eps: float = 1e-12,
        freeze_batchnorm: bool = True,
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError("GTCRN enhances one speaker: num_spk must be 1")
        conf = dict(n_fft=n_fft, sample_rate=sample_rate, erb_low_bins=erb_low_bins, erb_bands=erb_bands,
                    channels=channels, dilations=list(dilations), num_dpgrnn=num_dpgrnn, sfe_kernel=sfe_kernel,
                    mag_eps=mag_eps)
        state = None
        if init_checkpoint is not None:
            stored, state = load_converted(init_checkpoint, "gtcrn")
            unknown = sorted(set(stored) - set(conf))
            if unknown:
                raise ValueError(f"{init_checkpoint}: GTCRN checkpoint has settings this GTCRN does not know: {unknown}")
            for key, value in stored.items():
                if (list(value) if key == "dilations" else value) != conf[key]:
                    raise ValueError(f"{init_checkpoint}: GTCRN converted with {key}={value!r}, but {key}={conf[key]!r} "
                                     f"was set: remove {key} from separator_conf or set it to {value!r}")
        self.freeze_batchnorm = freeze_batchnorm
        self.model = GTCRNWaveform(GTCRN(**conf), hop_length=hop_length, periodic_window=periodic_window)
        if state is not None:
            load_weights(self.model.gtcrn, state, init_checkpoint)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.freeze_batchnorm:
            for m in self.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
