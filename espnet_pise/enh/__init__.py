"""Speech enhancement front ends: Demucs (facebookresearch/denoiser architecture) for ESPnet."""
