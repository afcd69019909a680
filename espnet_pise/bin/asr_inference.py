"""`python -m espnet_pise.bin.asr_inference`: ESPnet's asr_inference with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("asr_inference", cmd)


if __name__ == "__main__":
    main()
