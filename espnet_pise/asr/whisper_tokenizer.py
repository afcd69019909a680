"""Whisper's tokenizer for ESPnet (``token_type: whisper_multilingual``), on openai-whisper's tiktoken.

ESPnet 202511's ``OpenAIWhisperTokenizer`` / ``OpenAIWhisperTokenIDConverter`` call the
transformers API of an older whisper fork and fail with openai-whisper 20250625;
``espnet_pise.register()`` puts these classes in their place (same constructor arguments, same
behaviour: ``tokens2ids`` prepends the ``<|en|><|transcribe|><|notimestamps|>`` prompt after
``<sos>``, ``ids2tokens`` drops special tokens).

Tokens are written as GPT-2 byte-level strings (every byte a printable character, as
transformers and ESPnet's ``whisper_export_vocabulary`` write them), so a token list is one token
per line and ``tokens2text`` is lossless.
"""
from functools import lru_cache
from typing import Dict, Iterable, List, Optional

from espnet2.text.abs_tokenizer import AbsTokenizer
from typeguard import typechecked

MODEL_TYPES = ("whisper_multilingual",)


@lru_cache(maxsize=1)
def byte_to_char() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


@lru_cache(maxsize=1)
def char_to_byte() -> Dict[str, int]:
    return {c: b for b, c in byte_to_char().items()}


@lru_cache(maxsize=4)
def _tiktoken(language: str, task: str):
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE, get_tokenizer

    code = language if language in LANGUAGES else TO_LANGUAGE_CODE.get(language.lower())
    if code is None:
        raise ValueError(f"language {language!r} is not one Whisper knows")
    if task not in ("transcribe", "translate"):
        raise ValueError(f"task must be transcribe or translate, got {task!r}")
    return get_tokenizer(multilingual=True, num_languages=99, language=code, task=task)


def _check(model_type: str) -> None:
    if model_type not in MODEL_TYPES:
        raise ValueError(f"Whisper token type {model_type!r} is not supported here (only {MODEL_TYPES}: "
                         "Whisper base and larger multilingual models)")


class WhisperTokenizer(AbsTokenizer):
    """Text <-> Whisper byte-level BPE tokens (strings)."""

    @typechecked
    def __init__(self, model_type: str = "whisper_multilingual", language: str = "en", task: str = "transcribe",
                 sot: bool = False, speaker_change_symbol: str = "<sc>", added_tokens_txt: Optional[str] = None):
        _check(model_type)
        if added_tokens_txt is not None or sot:
            raise ValueError("added tokens and serialized-output training are not supported by espnet_pise's Whisper tokenizer")
        self.model_type = model_type
        self.tokenizer = _tiktoken(language, task)

    def __repr__(self):
        return f'{self.__class__.__name__}(model_type="{self.model_type}")'

    def text2tokens(self, line: str) -> List[str]:
        enc, chars = self.tokenizer.encoding, byte_to_char()
        return ["".join(chars[b] for b in enc.decode_single_token_bytes(i)) for i in enc.encode_ordinary(line)]

    def tokens2text(self, tokens: Iterable[str]) -> str:
        table = char_to_byte()
        return bytes(table[c] for t in tokens for c in t).decode("utf-8", errors="replace")


class WhisperTokenIDConverter:
    """Whisper byte-level tokens <-> ids; the decoding prompt is ``tokenizer.sot_sequence_including_notimestamps``."""

    @typechecked
    def __init__(self, model_type: str = "whisper_multilingual", language: Optional[str] = "en", task: str = "transcribe",
                 added_tokens_txt: Optional[str] = None, sot: bool = False, speaker_change_symbol: str = "<sc>"):
        _check(model_type)
        if added_tokens_txt is not None or sot:
            raise ValueError("added tokens and serialized-output training are not supported by espnet_pise's Whisper tokenizer")
        self.model_type = model_type
        self.tokenizer = _tiktoken(language or "en", task)
        enc = self.tokenizer.encoding
        self._special = {i: s for s, i in enc._special_tokens.items()}
        self._first_special = min(self._special)

    def get_num_vocabulary_size(self) -> int:
        return self.tokenizer.encoding.n_vocab

    def ids2tokens(self, integers: Iterable[int]) -> List[str]:
        enc, chars = self.tokenizer.encoding, byte_to_char()
        return ["".join(chars[b] for b in enc.decode_single_token_bytes(int(i)))
                for i in integers if int(i) < self._first_special]

    def tokens2ids(self, tokens: Iterable[str]) -> List[int]:
        enc, table = self.tokenizer.encoding, char_to_byte()
        ids = [enc.encode_single_token(bytes(table[c] for c in t)) for t in tokens]
        return list(self.tokenizer.sot_sequence_including_notimestamps[1:]) + ids


def token_list(language: str = "en", task: str = "transcribe") -> List[str]:
    """All Whisper multilingual tokens in id order (special tokens by name), for ESPnet's ``token_list``."""
    tok = _tiktoken(language, task)
    enc, chars = tok.encoding, byte_to_char()
    special = {i: s for s, i in enc._special_tokens.items()}
    return [special[i] if i in special else "".join(chars[b] for b in enc.decode_single_token_bytes(i))
            for i in range(enc.n_vocab)]


def _accept_whisper_token_type(task) -> None:
    """Let a task's ``--token_type`` accept ``whisper_multilingual`` (enh_s2t lists only bpe/char/word/phn;
    its preprocessor already handles Whisper tokens)."""
    original = task.add_task_arguments.__func__
    if getattr(original, "_pise_whisper", False):
        return

    def add_task_arguments(cls, parser):
        original(cls, parser)
        for action in parser._actions:
            if action.dest == "token_type" and action.choices is not None and MODEL_TYPES[0] not in action.choices:
                action.choices = [*action.choices, *MODEL_TYPES]

    add_task_arguments._pise_whisper = True
    task.add_task_arguments = classmethod(add_task_arguments)


def install_into_espnet() -> None:
    """Replace ESPnet's Whisper tokenizer classes, where ESPnet defined and where it imported them,
    and accept the Whisper token type in enh_s2t."""
    import sys

    from espnet2.tasks.enh_s2t import EnhS2TTask

    _accept_whisper_token_type(EnhS2TTask)

    import espnet2.text.whisper_token_id_converter as conv_mod
    import espnet2.text.whisper_tokenizer as tok_mod

    originals = {tok_mod.OpenAIWhisperTokenizer: WhisperTokenizer,
                 conv_mod.OpenAIWhisperTokenIDConverter: WhisperTokenIDConverter}
    for name, module in list(sys.modules.items()):
        if not name.startswith("espnet2.") or module is None:
            continue
        for attr in ("OpenAIWhisperTokenizer", "OpenAIWhisperTokenIDConverter"):
            current = getattr(module, attr, None)
            if current in originals:
                setattr(module, attr, originals[current])


__all__ = ["WhisperTokenizer", "WhisperTokenIDConverter", "token_list", "install_into_espnet"]
