from mnist_demo.cli import run

run()
