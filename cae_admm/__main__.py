from cae_admm.cli import run

run()
