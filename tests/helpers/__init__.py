"""What the tests share besides fixtures (those are in conftest.py):

    synthetic  deterministic images and data files
    models     tiny untrained model files, a round trip through the loader
    commands   running the project's commands in-process or as a process
    optional   a module of an extra: skipped where missing, never in CI
"""
