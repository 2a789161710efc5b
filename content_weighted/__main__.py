from content_weighted.cli import run

run()
