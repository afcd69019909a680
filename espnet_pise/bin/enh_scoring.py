"""`python -m espnet_pise.bin.enh_scoring`: ESPnet's enh_scoring with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("enh_scoring", cmd)


if __name__ == "__main__":
    main()
