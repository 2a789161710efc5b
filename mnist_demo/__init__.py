"""The "learned data compression" tutorial on MNIST, as a package."""
