"""ESPnet ASR components: the Whisper recogniser (encoder, decoder, tokenizer) from local files."""
