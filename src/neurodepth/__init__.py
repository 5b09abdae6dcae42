"""neurodepth: how deep must an artificial network be to mimic a cortical neuron?"""

__version__ = "0.1.0"
