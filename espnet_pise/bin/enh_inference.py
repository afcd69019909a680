"""`python -m espnet_pise.bin.enh_inference`: ESPnet's enh_inference with espnet_pise registered."""
from espnet_pise.bin import run_espnet_main


def main(cmd=None):
    run_espnet_main("enh_inference", cmd)


if __name__ == "__main__":
    main()
