"""`python -m espnet_pise.bin.enh_train`: ESPnet's enh_train with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("enh_train", cmd)


if __name__ == "__main__":
    main()
