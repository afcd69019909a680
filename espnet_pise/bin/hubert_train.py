"""`python -m espnet_pise.bin.hubert_train`: ESPnet's hubert_train with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("hubert_train", cmd)


if __name__ == "__main__":
    main()
