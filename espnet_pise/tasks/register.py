"""Adds espnet_pise components to ESPnet's ClassChoices tables.

ESPnet has no plugin mechanism: components are looked up by name in module-level ClassChoices
objects, and some tasks keep deep copies of them for their command line (enh_s2t).  ``register()``
extends every table that can name our components, before any parser or model is built.  It must
also run before inference, which rebuilds the model from config.yaml; the entry modules in
``espnet_pise.bin`` do that.
"""
import threading

_LOCK = threading.Lock()
_DONE = False


def _components():
    from espnet_pise.losses.ssl_losses import SSLMSELoss, SSLMSEPadLoss, SSLShiftMSELoss, SSLSoftDTWLoss

    criterions = dict(
        ssl_mse=SSLMSELoss,
        ssl_mse_pad=SSLMSEPadLoss,
        ssl_sdtw=SSLSoftDTWLoss,
        ssl_shift_mse=SSLShiftMSELoss,
    )
    from espnet_pise.enh.demucs_separator import DemucsSeparator
    from espnet_pise.enh.gtcrn_separator import GTCRNSeparator
    from espnet_pise.enh.nsnet2 import NSNet2Separator

    separators = dict(demucs=DemucsSeparator, gtcrn=GTCRNSeparator, nsnet2=NSNet2Separator)
    from espnet_pise.ssl.frontend import SSLFrontend

    frontends = dict(pise_ssl=SSLFrontend)
    from espnet_pise.asr.whisper import PiseWhisperDecoder, PiseWhisperEncoder

    encoders, decoders = dict(pise_whisper=PiseWhisperEncoder), dict(pise_whisper=PiseWhisperDecoder)
    return criterions, separators, frontends, encoders, decoders


def _add(choices, classes: dict) -> None:
    for name, cls in classes.items():
        existing = choices.classes.get(name)
        if existing is not None and existing is not cls:
            raise RuntimeError(f"ESPnet already has a {choices.name} named '{name}' ({existing})")
        choices.classes[name] = cls


def register() -> None:
    """Idempotently register espnet_pise's criterions (enh), separators ``demucs``, ``gtcrn``, ``nsnet2`` (enh, enh_s2t),
    ASR frontend ``pise_ssl`` and the Whisper encoder/decoder ``pise_whisper`` (asr, enh_s2t) in
    ESPnet, and its Whisper tokenizer in place of ESPnet's."""
    global _DONE
    with _LOCK:
        if _DONE:
            return
        from espnet2.enh.espnet_model import ESPnetEnhancementModel
        from espnet2.tasks import asr, enh, enh_s2t

        from espnet_pise.losses.context import wrap_forward_loss

        criterions, separators, frontends, encoders, decoders = _components()
        # enh_s2t and enh_tse build their enhancement model through these same objects ...
        _add(enh.criterion_choices, criterions)
        _add(enh.separator_choices, separators)
        # ... but enh_s2t validates its command line against a deep copy
        _add(enh_s2t.enh_separator_choices, separators)
        # ASR (and enh_s2t's ASR part) share this table
        _add(asr.frontend_choices, frontends)
        # the Whisper recogniser: ASR tables and enh_s2t's deep copies of them
        for choices, classes in ((asr.encoder_choices, encoders), (asr.decoder_choices, decoders),
                                 (enh_s2t.asr_encoder_choices, encoders), (enh_s2t.asr_decoder_choices, decoders)):
            _add(choices, classes)
        # ESPnet's Whisper tokenizer classes need an older whisper fork: ours take their place
        from espnet_pise.asr.whisper_tokenizer import install_into_espnet

        install_into_espnet()
        # ESPnet does not pass lengths to criterions: publish them while losses run
        wrap_forward_loss(ESPnetEnhancementModel)
        _DONE = True
