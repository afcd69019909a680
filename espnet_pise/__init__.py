"""espnet-pise: position-invariant SSL fine-tuning of speech enhancement front ends for ESPnet.

``espnet_pise.register()`` adds the project's components to ESPnet's tables; the entry modules
``python -m espnet_pise.bin.<espnet_main>`` call it and then ESPnet's own main.
"""
__version__ = "0.1.0"


def register() -> None:
    from espnet_pise.tasks.register import register as _register

    _register()
