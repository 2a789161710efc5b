from bls2017.cli import run

run()
