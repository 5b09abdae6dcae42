"""Errors that name their culprit (config key, file, shard) so users can fix the input."""


class NeurodepthError(Exception):
    """Base class for every error raised on bad input."""


class ConfigError(NeurodepthError):
    pass


class MorphologyError(NeurodepthError):
    pass


class MechanismError(NeurodepthError):
    pass


class ShardError(NeurodepthError):
    pass


class DatasetError(NeurodepthError):
    pass


class TrainingDivergedError(NeurodepthError):
    pass


class DiskSpaceError(NeurodepthError):
    pass
