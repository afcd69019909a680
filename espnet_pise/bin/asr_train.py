"""`python -m espnet_pise.bin.asr_train`: ESPnet's asr_train with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("asr_train", cmd)


if __name__ == "__main__":
    main()
