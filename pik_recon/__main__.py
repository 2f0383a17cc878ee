"""`python -m pik_recon` is `pik-recon`."""

from pik_recon.cli import main

if __name__ == "__main__":
    main()
